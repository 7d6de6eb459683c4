"""The model in one process, no server: the ceiling a served deployment is measured against.

Runs INSIDE the serving image (its Python has torch and transformers), on the same cores as the service, started
by benchmarks/cpu_ceiling.py. For each input length in the inputs file, each dtype and each batch size it
tokenises, runs the encoder, mean-pools and normalises (what the served model does for an embedding), for a fixed
time, and prints one JSON line per combination: {"tokens", "dtype", "batch", "texts_per_s", "seconds"}.

    python _inprocess_ceiling.py --model /model --inputs /inputs.json --dtypes bfloat16 float32 --batches 1 16 64
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", required=True, help='JSON: [{"tokens": 512, "texts": [...]}, ...]')
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    threads = len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    with open(args.inputs) as handle:
        groups = json.load(handle)
    print(json.dumps({"threads": threads, "torch": torch.__version__}), flush=True)
    best_first = {}  # tokens -> the best batch-1 texts/s of the dtypes measured so far
    for dtype in args.dtypes:
        model = AutoModel.from_pretrained(args.model, torch_dtype=getattr(torch, dtype)).eval()
        for group in groups:
            texts = group["texts"]
            first = None
            for batch in args.batches:
                if first is not None and first < 0.5 * best_first.get(group["tokens"], 0):
                    # A dtype this CPU runs at under half the speed of the best one at batch 1 (no native
                    # support) is not swept further: its large batches would take minutes each.
                    print(json.dumps({"tokens": group["tokens"], "dtype": dtype, "batch": batch, "skipped":
                                      "under half the best at batch 1"}), flush=True)
                    continue
                done, start = 0, time.perf_counter()
                deadline = start + args.seconds
                with torch.inference_mode():
                    while True:
                        chunk = [texts[(done + i) % len(texts)] for i in range(batch)]
                        encoded = tokenizer(chunk, padding=True, truncation=True, max_length=args.max_length,
                                            return_tensors="pt")
                        hidden = model(**encoded).last_hidden_state
                        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                        torch.nn.functional.normalize(pooled.float(), dim=-1)
                        done += batch
                        if time.perf_counter() >= deadline:
                            break
                seconds = time.perf_counter() - start
                rate = done / seconds
                first = rate if first is None else first
                print(json.dumps({"tokens": group["tokens"], "dtype": dtype, "batch": batch,
                                  "texts_per_s": round(rate, 2), "seconds": round(seconds, 2)}), flush=True)
            best_first[group["tokens"]] = max(best_first.get(group["tokens"], 0), first or 0)
        del model


if __name__ == "__main__":
    main()
