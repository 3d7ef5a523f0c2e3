"""ForestDiffusion benchmark: python run_fd.py <table> [key=value ...] (overrides of ForestDiffusionModel defaults)"""

import ast
import sys
import time

import numpy as np
import pandas as pd
from ForestDiffusion import ForestDiffusionModel

table = sys.argv[1]
kw = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in sys.argv[2:] if "=" in a)}
tag = kw.pop("tag", None)
seed = pd.read_parquet(f"/tmp/geneval/seeds/{table}.parquet")
cols = list(seed.columns)
# encode: categorical (object) columns -> integer codes (ForestDiffusion expects numeric arrays)
cat_idx, int_idx, bin_idx, levels = [], [], [], {}
X = np.empty(seed.shape, dtype=float)
for i, c in enumerate(cols):
    s = seed[c]
    if s.dtype == object:
        codes, uniq = pd.factorize(s, sort=True)
        levels[c] = uniq
        X[:, i] = codes
        (bin_idx if len(uniq) == 2 else cat_idx).append(i)
    else:
        X[:, i] = s.to_numpy(dtype=float)
        if pd.api.types.is_integer_dtype(s):
            int_idx.append(i)
print("seed", seed.shape, "cat", len(cat_idx), "bin", len(bin_idx), "int", len(int_idx), "overrides", kw, flush=True)
t0 = time.perf_counter()
m = ForestDiffusionModel(X, cat_indexes=cat_idx, int_indexes=int_idx, bin_indexes=bin_idx, **kw)
t1 = time.perf_counter()
Xs = m.generate(batch_size=len(seed))
t2 = time.perf_counter()
print(f"RESULT fit_s={t1 - t0:.2f} sample_s={t2 - t1:.2f} rows={Xs.shape[0]} cols={Xs.shape[1]}", flush=True)
syn = pd.DataFrame(Xs, columns=cols)
for c in cols:
    if c in levels:
        syn[c] = levels[c][np.clip(np.round(syn[c]).astype(int), 0, len(levels[c]) - 1)]
    elif pd.api.types.is_integer_dtype(seed[c]):
        syn[c] = np.round(syn[c]).astype(seed[c].dtype)
print(int(syn.isna().sum().sum()), "NaNs in output")
if tag != "probe":
    syn.to_parquet(f"/tmp/geneval/out/forestdiffusion_{table}.parquet", index=False)
