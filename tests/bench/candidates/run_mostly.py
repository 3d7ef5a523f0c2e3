"""mostlyai-engine TabularARGN benchmark: python run_mostly.py <table> [max_training_time_minutes]"""

import shutil
import sys
import time

import pandas as pd
import torch
from mostlyai.engine import TabularARGN

table = sys.argv[1]
mtt = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
torch.set_num_threads(2)
seed = pd.read_parquet(f"/tmp/geneval/seeds/{table}.parquet")
print("seed", seed.shape, flush=True)
ws = f"/tmp/geneval/ws/mostly_{table}"
shutil.rmtree(ws, ignore_errors=True)
# defaults (model MOSTLY_AI/Medium, max_epochs=100, early stopping on internal val split)
# except: max_training_time capped (default 14400 min), fixed random_state, cpu
m = TabularARGN(max_training_time=mtt, random_state=0, device="cpu", workspace_dir=ws, verbose=1)
t0 = time.perf_counter()
m.fit(seed)
t1 = time.perf_counter()
syn = m.sample(n_samples=len(seed))
t2 = time.perf_counter()
print(f"RESULT fit_s={t1 - t0:.2f} sample_s={t2 - t1:.2f} rows={len(syn)} cols={syn.shape[1]}", flush=True)
syn = syn[list(seed.columns)]
print(syn.dtypes.value_counts().to_dict(), int(syn.isna().sum().sum()), "NaNs")
syn.to_parquet(f"/tmp/geneval/out/mostlyai-engine_{table}.parquet", index=False)
