"""Files: experiments as TOML, the outputs of a run, and the field's data formats (Neo, NIX)."""
