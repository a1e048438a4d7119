"""Silver-standard corpora: built from an ensemble of taggers (`build`),
imported from CALBC (`calbc`), de-noised with the papers' blacklists
(`blacklists`)."""
