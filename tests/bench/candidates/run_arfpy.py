"""arfpy benchmark: python run_arfpy.py <table> [--shim]"""

import sys
import time

if "--shim" in sys.argv:
    import numpy as np

    if not hasattr(np, "in1d"):
        np.in1d = np.isin  # one-line numpy-2 compatibility shim
import numpy as np
import pandas as pd
from arfpy import arf

table = sys.argv[1]
np.random.seed(0)
seed = pd.read_parquet(f"/tmp/geneval/seeds/{table}.parquet")
print("seed", seed.shape, flush=True)
t0 = time.perf_counter()
model = arf.arf(x=seed)  # defaults: num_trees=30, delta=0, max_iters=10, min_node_size=5
model.forde()  # defaults: dist='truncnorm'
t1 = time.perf_counter()
syn = model.forge(n=len(seed))
t2 = time.perf_counter()
print(
    f"RESULT fit_s={t1 - t0:.2f} sample_s={t2 - t1:.2f} rows={len(syn)} cols={syn.shape[1]} acc={model.acc}", flush=True
)
# restore dtypes where possible (arfpy returns object/float columns)
for c in seed.columns:
    if seed[c].dtype == object:
        syn[c] = syn[c].astype(str)
    else:
        syn[c] = pd.to_numeric(syn[c])
print(syn.isna().sum().sum(), "NaNs in output")
syn.to_parquet(f"/tmp/geneval/out/arfpy_{table}.parquet", index=False)
