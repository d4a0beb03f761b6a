"""Control: features + analysis + preset + seed → latent trajectories (:mod:`.controller`),
built from the small pure functions of :mod:`.motion`."""
