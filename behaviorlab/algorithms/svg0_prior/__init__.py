"""SVG(0) with Retrace and a KL-regularised behaviour prior (Tirumala et al. 2020)."""
