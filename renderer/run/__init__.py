"""Running a render: records passed between the stages (:mod:`.records`), the audio side of a
track (:mod:`.prepare`), its frames chunk by chunk (:mod:`.frames`), one whole track
(:mod:`.track`) and the album with its film (:mod:`.album`). The entry scripts
``renderer/render_track.py`` and ``renderer/render_album.py`` only parse their arguments."""
