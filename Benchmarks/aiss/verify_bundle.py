#!/usr/bin/env python3
"""Times aiss-standard (the AISS reference implementation) verifying an AISS-1.0-AUDIT bundle.

The bundle is the one the Swift ledger benchmarks verify (20,000 events, written once by
`AuditBundle.export` and cached), so the rates compare directly with
"ledger verify: AuditBundle parse + verify" in `swift package benchmark`:

    KEEL_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target KeelBenchmarks \
        --filter "ledger verify.*"                      # writes the bundle the first time
    python3 Benchmarks/aiss/verify_bundle.py            # or: ... verify_bundle.py FILE [--repeat N]

Timed per repetition: `json.load` of the file; `verify_chain(events, identity)` (signatures,
linkage, timestamps, forks, replay); `validate_audit_export(audit)` (structure and
`chain_integrity_hash`, which re-hashes every event). The headline rate is events /
(verify_chain + validate_audit_export), parsing excluded (Keel's figure includes its parsing).
For scale, the raw Ed25519 rate of aiss's backend (`aiss.crypto.ed25519.verify`, the
`cryptography` package) over the same signatures and messages is measured too. Python runs on
one core. Needs `pip install aiss-standard==2.0.2`.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata


def default_bundle() -> str:
    cache = os.environ.get("KEEL_BENCH_CACHE") or os.path.join(tempfile.gettempdir(), "keel-bench-cache")
    return os.path.join(cache, "bundle-20000-v1.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=default_bundle(), help="an AISS-1.0-AUDIT file (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args()

    try:
        from aiss.canonical import canonicalize
        from aiss.crypto import ed25519
        from aiss.exports import validate_audit_export
        from aiss.verify import verify_chain
    except ImportError:
        print("aiss-standard is not installed: pip install aiss-standard==2.0.2", file=sys.stderr)
        return 2
    if not os.path.exists(args.bundle):
        print(f"{args.bundle} does not exist: run the Swift ledger verify benchmarks first (they write it)", file=sys.stderr)
        return 2

    runs = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        with open(args.bundle, encoding="utf-8") as f:
            audit = json.load(f)
        t1 = time.perf_counter()
        assert verify_chain(audit["events"], audit["agent_identity"]) is True
        t2 = time.perf_counter()
        assert validate_audit_export(audit) is True
        t3 = time.perf_counter()
        runs.append({"load": t1 - t0, "verify_chain": t2 - t1, "validate_audit_export": t3 - t2})
    events = audit["events"]
    n = len(events)

    # The raw floor: aiss's Ed25519 verify over the same messages, canonicalized beforehand.
    public_key = ed25519.decode_base64(audit["agent_identity"]["public_key"])
    signed = []
    for event in events:
        unsigned = dict(event)
        signature = ed25519.decode_base64(unsigned.pop("signature"))
        signed.append((canonicalize(unsigned), signature))
    raw_times = []
    for _ in range(max(1, min(args.repeat, 3))):
        t0 = time.perf_counter()
        for message, signature in signed:
            assert ed25519.verify(public_key, message, signature)
        raw_times.append(time.perf_counter() - t0)

    def median(key):
        return statistics.median(run[key] for run in runs)

    verify_s = statistics.median(run["verify_chain"] + run["validate_audit_export"] for run in runs)
    summary = {
        "bundle": args.bundle,
        "events": n,
        "repeat": len(runs),
        "aiss_standard": metadata.version("aiss-standard"),
        "cryptography": metadata.version("cryptography"),
        "python": platform.python_version(),
        "load_s_median": median("load"),
        "verify_chain_s_median": median("verify_chain"),
        "validate_audit_export_s_median": median("validate_audit_export"),
        "verify_s_median": verify_s,
        "verify_events_per_s": n / verify_s,
        "verify_events_per_s_best": n / min(run["verify_chain"] + run["validate_audit_export"] for run in runs),
        "verify_with_load_events_per_s": n / statistics.median(sum(run.values()) for run in runs),
        "raw_ed25519_verifies_per_s": n / statistics.median(raw_times),
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"aiss-standard {summary['aiss_standard']} (cryptography {summary['cryptography']}, Python {summary['python']}, 1 core)")
    print(f"bundle: {args.bundle} ({n} events), {len(runs)} repetitions, medians:")
    print(f"  json.load               {summary['load_s_median'] * 1000:9.1f} ms")
    print(f"  verify_chain            {summary['verify_chain_s_median'] * 1000:9.1f} ms")
    print(f"  validate_audit_export   {summary['validate_audit_export_s_median'] * 1000:9.1f} ms")
    print(f"  verify_chain + validate {verify_s * 1000:9.1f} ms = {summary['verify_events_per_s']:,.0f} events/s"
          f" (best {summary['verify_events_per_s_best']:,.0f}; with json.load {summary['verify_with_load_events_per_s']:,.0f})")
    print(f"  raw ed25519.verify      {summary['raw_ed25519_verifies_per_s']:,.0f} verifies/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
