"""Pure torch math shared by several algorithms; no Ray import."""
