"""tensile virtual node: a lower cluster presented as one node of the upper cluster."""
