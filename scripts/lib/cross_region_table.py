#!/usr/bin/env python3
"""Prints the lead's cross-region table from `jetsync stats show --json` on stdin: for each
headline indicator, one row per region and one column per period (totals over every breakdown).
'C' marks a suppressed value (never shown as zero), '-' a figure the region did not report."""
import json
import sys

HEADLINE = ["ENROLLED", "EARLY_LEAVERS", "EARLY_LEAVING_RATE", "RETENTION_RATE",
            "PERSISTENT_ABSENCE_RATE", "COMPLETION_RATE", "NO_OCCUPATION_SHARE",
            "REENGAGEMENT_RATE"]


def cell(o):
    if o is None:
        return "-"
    if o["status"] == "C" or o["value"] is None:
        return "C"
    v = o["value"]
    return f"{v:.1f}" if isinstance(v, float) else f"{v:,}"


def main():
    rows = json.load(sys.stdin)
    totals = [o for o in rows
              if all(o[k] == "_T" for k in ("school_level", "sex", "age_band", "area"))]
    regions = sorted({o["region"] for o in totals})
    present = [i for i in HEADLINE if any(o["indicator"] == i for o in totals)]
    for ind in present:
        sel = [o for o in totals if o["indicator"] == ind]
        periods = sorted({o["period"] for o in sel})[-4:]
        print(f"\n{ind}" + ("  (%)" if ind.endswith(("RATE", "SHARE")) else ""))
        print(f"  {'region':<8}" + "".join(f"{p:>12}" for p in periods))
        for r in regions:
            vals = {o["period"]: o for o in sel if o["region"] == r}
            if vals:
                print(f"  {r:<8}" + "".join(f"{cell(vals.get(p)):>12}" for p in periods))
    print("\nC = suppressed to protect small counts; rates are computed from published counts only.")


if __name__ == "__main__":
    main()
