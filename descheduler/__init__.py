"""tensile descheduler: policy -> cluster state -> plugins -> evictor -> report."""
