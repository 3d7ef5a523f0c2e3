"""The quality and privacy gate of a synthetic pool (`gate`: quality score, copies of seed rows, detection AUC)
and reading the fit and quality reports the generator stages wrote (`reports`: merged over fit seeds, the gate's
verdict on a pool).

May import: `core`, `data`, `generators`.
"""
