#!/usr/bin/env python3
"""generate.py - plausible sample statistics for each JET-CD partner region.

Writes one CSV per region into this folder (or the folder given as the first argument), in the
long format `jetsync stats import` reads (docs/statistics.md). The numbers are synthetic, drawn
with a fixed seed so every run writes the same files, and shaped after public figures and the
seed documents of the project:

  * SE-Y Vasternorrland (lead partner): the municipal follow-up of 16-19-year-olds (KAA). The
    share without occupation falls from 64 % to 10 % between 2016 and 2019, and 10 % of the
    programme participants actively interrupt their studies, as Plug In 2.0 reported
    (seed 003). Completion: nearly one in four who ended upper secondary in 2018 did not
    complete with a diploma (#jagmed, seed 004: COMPLETED_PLUS1 / COHORT about 76 %), and the
    region's programmes reached about 3,400 young people aged 15-24 in 2015-2018 (its share of
    #jagmed's 17,000 across five regions).
  * IT-25 Lombardia: the after-school programme "Meglio dopo Insieme" for 130 lower-secondary
    pupils aged 11-14 in Milan (seed 000); early leaving near Lombardy's 10-11 %.
  * ES-CT Catalonia: early leaving around 14-17 %, falling; second-chance programmes.
  * NO-30 Viken (Ostfold): the follow-up service OT, completion within 5 years reported as
    COMPLETED_PLUS1.
  * RO-TL Tulcea: high early leaving (above 20 %), absence, and a mentoring pilot whose first
    year (3 pupils) is a small count that the node suppresses.
  * GB-HAM Hampshire: persistent absence (10 % or more of sessions missed) around 20 %.

Breakdowns use school_level (ISCED2, ISCED3G, ISCED3V), sex and area (municipality, province or
district codes); small areas give small counts, so every release has suppressed cells.

    python3 examples/stats/generate.py [OUTDIR]
"""
import os
import random
import sys

SEED = 20190601
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
YEARS = ["2021/22", "2022/23", "2023/24", "2024/25"]
LEVELS = ["ISCED2", "ISCED3G", "ISCED3V"]

# Pupils enrolled per area (all three levels together) and the region's early-leaving rate per
# school year (first to last).
REGIONS = {
    "SE-Y": {
        "file": "se-y_vasternorrland.csv", "sep": ";", "bom": False,
        "areas": {"SE2281": 9800, "SE2284": 6900, "SE2280": 3100, "SE2262": 2300,
                  "SE2282": 1900, "SE2283": 1700, "SE2260": 800},
        "esl": (0.082, 0.079, 0.075, 0.071),
    },
    "IT-25": {
        "file": "it-25_lombardia.csv", "sep": ",", "bom": False,
        "areas": {"MI": 310000, "BG": 112000, "BS": 128000, "VA": 86000, "CO": 57000,
                  "SO": 17000, "CAMPIONE": 90},
        "esl": (0.112, 0.108, 0.104, 0.101),
    },
    "ES-CT": {
        "file": "es-ct_catalunya.csv", "sep": ";", "bom": True,
        "areas": {"ES511": 560000, "ES512": 78000, "ES513": 44000, "ES514": 82000,
                  "ARAN": 1300},
        "esl": (0.172, 0.165, 0.158, 0.149),
    },
    "NO-30": {
        "file": "no-30_viken.csv", "sep": ";", "bom": False,
        "areas": {"NO3004": 9100, "NO3003": 6300, "NO3002": 5200, "NO3001": 3400,
                  "NO3011": 900},
        "esl": (0.061, 0.058, 0.060, 0.055),
    },
    "RO-TL": {
        "file": "ro-tl_tulcea.csv", "sep": ",", "bom": False,
        "areas": {"TULCEA": 11200, "BABADAG": 2100, "MACIN": 2000, "ISACCEA": 1100,
                  "SULINA": 520},
        "esl": (0.231, 0.226, 0.219, 0.212),
    },
    "GB-HAM": {
        "file": "gb-ham_hampshire.csv", "sep": ",", "bom": False,
        "areas": {"E07000084": 21000, "E07000085": 14800, "E07000086": 16300,
                  "E07000087": 13900, "E07000088": 9800, "E07000089": 12400,
                  "E07000090": 14100, "E07000091": 21500, "E07000092": 11600,
                  "E07000093": 15700, "E07000094": 15300},
        "esl": (0.058, 0.056, 0.055, 0.053),
    },
}

LEVEL_SHARE = {"ISCED2": 0.45, "ISCED3G": 0.30, "ISCED3V": 0.25}
# Early leavers come mostly from vocational programmes, and more often boys.
LEVEL_RISK = {"ISCED2": 0.45, "ISCED3G": 0.75, "ISCED3V": 1.9}
SEX_RISK = {"F": 0.8, "M": 1.2}


def noisy(rng, x, spread=0.04):
    return max(0, int(round(x * (1 + rng.uniform(-spread, spread)))))


def binom(rng, n, p):
    """A binomial draw (normal approximation for large n)."""
    if n < 60:
        return sum(1 for _ in range(n) if rng.random() < p)
    mean, sd = n * p, (n * p * (1 - p)) ** 0.5
    return max(0, min(n, int(round(rng.gauss(mean, sd)))))


def school_rows(rng, code, cfg):
    rows = []
    for yi, year in enumerate(YEARS):
        for area, pupils in cfg["areas"].items():
            for lvl in LEVELS:
                for sex in ("F", "M"):
                    n = noisy(rng, pupils * LEVEL_SHARE[lvl] * (0.49 if sex == "F" else 0.51))
                    p = cfg["esl"][yi] * LEVEL_RISK[lvl] * SEX_RISK[sex]
                    p = min(p, 0.9) / 3  # leavers during one year, not of the whole cohort
                    rows.append(("ENROLLED", year, lvl, sex, area, n))
                    rows.append(("EARLY_LEAVERS", year, lvl, sex, area, binom(rng, n, p)))
                    rows.append(("RETAINED", year, lvl, sex, area,
                                 binom(rng, n, 0.012 if lvl == "ISCED2" else 0.02)))
                    if code in ("GB-HAM", "RO-TL"):
                        pa = 0.21 if code == "GB-HAM" else 0.16
                        pa *= (1.0 - 0.03 * yi) * (1.3 if lvl == "ISCED3V" else 1.0)
                        rows.append(("PERSISTENT_ABSENCE", year, lvl, sex, area, binom(rng, n, pa)))
    return rows


def follow_up_rows(rng, periods, follow, no_occ_share, reengaged_share, areas):
    """Municipal follow-up (KAA/OT) by age band and area for calendar years."""
    rows = []
    for pi, period in enumerate(periods):
        for area, weight in areas.items():
            for band, w in (("Y16-17", 0.4), ("Y18-19", 0.6)):
                n = noisy(rng, follow * weight * w, 0.08)
                rows.append(("FOLLOW_UP", period, "", "", band, area, n))
                rows.append(("NO_OCCUPATION", period, "", "", band, area,
                             binom(rng, n, no_occ_share[pi])))
                rows.append(("REENGAGED", period, "", "", band, area,
                             binom(rng, n, reengaged_share[pi])))
    return rows


def completion_rows(rng, periods, cohort, share3, share4, areas):
    rows = []
    for pi, period in enumerate(periods):
        for area, weight in areas.items():
            for sex in ("F", "M"):
                n = noisy(rng, cohort * weight * 0.5)
                c4 = binom(rng, n, share4[pi] * (1.04 if sex == "F" else 0.96))
                c3 = min(c4, binom(rng, n, share3[pi] * (1.04 if sex == "F" else 0.96)))
                rows.append(("COHORT", period, "ISCED3G", sex, "", area, n))
                rows.append(("COMPLETED", period, "ISCED3G", sex, "", area, c3))
                rows.append(("COMPLETED_PLUS1", period, "ISCED3G", sex, "", area, c4))
    return rows


def area_weights(cfg):
    total = sum(cfg["areas"].values())
    return {a: v / total for a, v in cfg["areas"].items()}


def write(code, cfg, school, extra):
    path = os.path.join(OUT, cfg["file"])
    sep = cfg["sep"]
    with open(path, "w", encoding="utf-8", newline="") as f:
        if cfg["bom"]:
            f.write("\ufeff")
        f.write(sep.join(["indicator", "period", "school_level", "sex", "age_band", "area",
                          "value"]) + "\r\n")
        for ind, period, lvl, sex, area, value in school:
            f.write(sep.join([ind, period, lvl, sex, "", area, str(value)]) + "\r\n")
        for ind, period, lvl, sex, band, area, value in extra:
            f.write(sep.join([ind, period, lvl, sex, band, area, str(value)]) + "\r\n")
    return path


def main():
    rng = random.Random(SEED)
    for code, cfg in REGIONS.items():
        school = school_rows(rng, code, cfg)
        extra = []
        w = area_weights(cfg)
        if code == "SE-Y":
            # KAA 16-19: the share without occupation 64 % -> 10 % (Plug In 2.0), 2016-2019.
            extra += follow_up_rows(rng, ["2016", "2017", "2018", "2019"], 1150,
                                    (0.64, 0.41, 0.22, 0.10), (0.18, 0.34, 0.49, 0.61), w)
            # One in four did not complete within 4 years in 2018 (#jagmed).
            extra += completion_rows(rng, ["2016", "2017", "2018", "2019"], 2400,
                                     (0.66, 0.67, 0.68, 0.70), (0.74, 0.75, 0.76, 0.78), w)
            # Programme participants 15-24, about 3,400 in 2015-2018; 10 % interrupt.
            for period, n in (("2015", 610), ("2016", 880), ("2017", 960), ("2018", 950)):
                for band, share in (("Y15-19", 0.7), ("Y20-24", 0.3)):
                    for sex in ("F", "M"):
                        k = noisy(rng, n * share * (0.45 if sex == "F" else 0.55))
                        extra.append(("PROGRAMME_PARTICIPANTS", period, "", sex, band, "", k))
                        extra.append(("INTERRUPTIONS", period, "", sex, band, "",
                                      int(round(k * 0.10))))
        elif code == "NO-30":
            extra += follow_up_rows(rng, ["2021", "2022", "2023", "2024"], 2100,
                                    (0.31, 0.29, 0.27, 0.24), (0.38, 0.41, 0.44, 0.47), w)
            extra += completion_rows(rng, ["2021", "2022", "2023", "2024"], 7800,
                                     (0.71, 0.72, 0.72, 0.73), (0.79, 0.80, 0.81, 0.81), w)
        elif code == "IT-25":
            # Meglio dopo Insieme: 130 pupils of lower secondary school, 11-14, in Milan.
            for year, (f_, m_) in (("2023/24", (58, 72)), ("2024/25", (61, 69))):
                for sex, k in (("F", f_), ("M", m_)):
                    extra.append(("PROGRAMME_PARTICIPANTS", year, "ISCED2", sex, "Y11-14", "MI", k))
        elif code == "RO-TL":
            # A mentoring pilot: 3 pupils in its first year (a small count: suppressed), then 27.
            for year, n in (("2023/24", 3), ("2024/25", 27)):
                extra.append(("PROGRAMME_PARTICIPANTS", year, "", "", "", "", n))
        elif code == "ES-CT":
            for year, n in zip(YEARS, (1850, 2010, 2140, 2260)):
                for sex in ("F", "M"):
                    for band, share in (("Y16-17", 0.55), ("Y18-24", 0.45)):
                        extra.append(("PROGRAMME_PARTICIPANTS", year, "", sex, band, "",
                                      noisy(rng, n * share * (0.4 if sex == "F" else 0.6))))
        path = write(code, cfg, school, extra)
        print("%s: %s (%d rows)" % (code, path, len(school) + len(extra)))


if __name__ == "__main__":
    main()
