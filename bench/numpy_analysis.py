#!/usr/bin/python3
"""The analysis stages of rm_analyse_session written the way a numpy/scipy
user would, for bench_analysis to time beside rollmap (issue #14).

    numpy_analysis.py SESSION.npy SESSION.json

SESSION.npy holds one row per sample: t_us, encoder, then the raw counts of
every channel (int64); SESSION.json the device (rate, encoder geometry,
each channel's kind, area and calibration). The stages are rollmap's:
counts to newtons, mains-hum detection on the first 4 s and a notch
(where the decimation filter does not already stop the hum),
Kaiser-windowed anti-aliasing decimation to 100 Hz, offset drift from
unloaded stretches, FSR creep, total force and pressure, position and
speed from the encoder, a Welch PSD and a 64-point spectrogram of the
force with the 6-12 Hz band power, the raw-rate spectrum of the total
force, rolling-window dwells and the per-position evidence profile. It
prints a one-line summary (so nothing is optimised away) and nothing else.
"""
import json
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

ANALYSIS_HZ = 100.0
LOAD_THRESHOLD_N = 20.0
HUM_PREFIX_S = 4.0
NOTCH_Q = 30.0
CREEP_FRACTION = 0.05
DWELL_RADIUS_CM = 1.5
DWELL_MIN_S = 10.0
PROFILE_BIN_CM = 1.0


def newtons(counts, channels):
    out = np.empty(counts.shape, dtype=np.float64)
    for k, ch in enumerate(channels):
        c0, c1, c2, c3 = ch["coef"]
        x = counts[:, k] - ch["tare_counts"]
        out[:, k] = c0 + x * (c1 + x * (c2 + x * c3))
    return out


def line_prominence(psd, df, f_hz):
    centre = int(round(f_hz / df))
    lo, hi = int(3.0 / df), int(15.0 / df)
    around = np.r_[psd[max(centre - hi, 0):max(centre - lo, 0)],
                   psd[centre + lo:centre + hi]]
    floor = np.median(around) if around.size else 0.0
    return psd[centre] / floor if floor > 0 else 0.0


def detect_hum(force, total_mask, rate):
    n = int(HUM_PREFIX_S * rate)
    prefix = force[:n]
    signals = [prefix[:, total_mask].sum(axis=1)] + [prefix[:, k] for k in
                                                      range(prefix.shape[1])]
    for x in signals:
        f, p = signal.welch(x - x.mean(), fs=rate, nperseg=int(2 * rate))
        for mains in (50.0, 60.0):
            if line_prominence(p, f[1], mains) > 30.0:
                return mains
    return 0.0


def decimate(x, rate):
    factor = int(rate / ANALYSIS_HZ)
    transition = 0.3 / factor
    taps = int(np.ceil((60.0 - 8.0) / (2.285 * 2 * np.pi * transition))) | 1
    h = signal.firwin(taps, 0.35 / factor * 2, window=("kaiser", 0.1102 * (60.0 - 8.7)))
    delay = (taps - 1) // 2
    padded = np.concatenate([np.repeat(x[:1], delay, axis=0), x,
                             np.repeat(x[-1:], delay, axis=0)])
    return signal.upfirdn(h, padded, down=factor, axis=0)[delay // factor * 2:][:len(x) // factor]


def remove_drift(x, unloaded, rate):
    edges = np.flatnonzero(np.diff(np.r_[0, unloaded.astype(np.int8), 0]))
    starts, ends = edges[::2], edges[1::2]
    trim = int(0.25 * rate)
    keep = (ends - starts) >= max(int(rate), 2 * trim + 1)
    centres, offsets = [], []
    for a, b in zip(starts[keep], ends[keep]):
        centres.append((a + b - 1) / 2.0)
        offsets.append(np.median(x[a + trim:b - trim], axis=0))
    if not centres:
        return x
    at = np.arange(len(x))
    return x - np.stack([np.interp(at, centres, np.asarray(offsets)[:, k])
                         for k in range(x.shape[1])], axis=1)


def undo_creep(x, rate):
    a = CREEP_FRACTION / (np.log10(61.0) - (1 - CREEP_FRACTION) * np.log10(6.0))
    dt = 1.0 / rate
    # Time under load, recovering five times faster unloaded and never below
    # zero: a running sum held at zero is the sum minus its lowest point.
    step = np.where(x > 0.2, dt, -5.0 * dt)
    walk = np.cumsum(step)
    held = walk - np.minimum(np.minimum.accumulate(walk), 0.0)
    loaded_s = np.r_[0.0, held[:-1]]
    factor = np.maximum(1.0 - a * np.log10(1.0 + loaded_s), 0.1)
    return x / factor


def dwells(position, loaded, rate):
    window = int(DWELL_MIN_S * rate)
    if len(position) < window:
        return 0
    views = sliding_window_view(position, window)
    spread = np.nanmax(views, axis=1) - np.nanmin(views, axis=1)
    held = (spread <= 2 * DWELL_RADIUS_CM) & sliding_window_view(loaded, window).all(axis=1)
    return int(np.count_nonzero(np.diff(np.r_[0, held.astype(np.int8)]) == 1))


def decimation_stops(hum_hz, rate):
    """The decimation filter's stop band, from half the output rate up,
    holds the hum's line (where it lands at this rate)."""
    factor = int(rate / ANALYSIS_HZ + 1e-9)
    line_hz = abs(hum_hz - rate * round(hum_hz / rate))
    return factor > 1 and line_hz >= 0.5 * rate / factor


def analyse(npy_path, json_path):
    with open(json_path) as f:
        device = json.load(f)
    data = np.load(npy_path)
    rate = float(device["sample_rate_hz"])
    channels = device["channels"]
    kinds = np.array([ch["kind"] for ch in channels])
    total_mask = kinds == ("load-cell" if (kinds == "load-cell").any() else "pressure-cell")
    cells = kinds == "pressure-cell"
    force = newtons(data[:, 2:], channels)
    hum = detect_hum(force, total_mask, rate)
    if hum and not decimation_stops(hum, rate):
        b, a = signal.iirnotch(hum, NOTCH_Q, fs=rate)
        zi = signal.lfilter_zi(b, a)
        for k in range(force.shape[1]):
            force[:, k] = signal.lfilter(b, a, force[:, k], zi=zi * force[0, k])[0]
    raw_total = force[:, total_mask].sum(axis=1)
    f_raw, p_raw = signal.welch(raw_total, fs=rate, nperseg=1024)
    if hum:  # the hum and its harmonics are no vibration
        harmonic = np.maximum(np.round(f_raw / hum), 1.0) * hum
        p_raw[np.abs(f_raw - harmonic) <= 2.0] = 0.0
    vibration_hz = f_raw[15 + np.argmax(p_raw[15:])]
    values = np.column_stack([force, data[:, 1].astype(np.float64)])
    low = decimate(values, rate)
    slow = rate / int(rate / ANALYSIS_HZ)
    newton = low[:, :-1]
    total = newton[:, total_mask].sum(axis=1)
    newton = remove_drift(newton, total < 0.5 * LOAD_THRESHOLD_N, slow)
    for k in np.flatnonzero(cells):
        newton[:, k] = undo_creep(newton[:, k], slow)
    total = newton[:, total_mask].sum(axis=1)
    areas = np.array([ch["area_mm2"] for ch in channels])
    in_contact = cells & (areas > 0)
    contact = (newton >= 0.5) & in_contact
    kpa = np.where(contact, newton / np.where(areas > 0, areas, 1) * 1000.0, 0).sum(axis=1)
    kpa /= np.maximum(contact.sum(axis=1), 1)
    loaded = total >= LOAD_THRESHOLD_N
    position = low[:, -1] * device["mm_per_count"] / 10.0
    position -= np.quantile(position[loaded], 0.02) if loaded.any() else 0.0
    speed = np.gradient(position, 1.0 / slow)
    f_psd, psd = signal.welch(total - total.mean(), fs=slow, nperseg=1024)
    f_sg, t_sg, sg = signal.spectrogram(total, fs=slow, nperseg=64, noverlap=0)
    band = (f_sg >= 6.0) & (f_sg <= 12.0)
    tremor = np.interp(np.arange(len(total)) / slow, t_sg, sg[band].sum(axis=0))
    n_dwells = dwells(position, loaded, slow)
    edges = np.arange(np.nanmin(position), np.nanmax(position) + PROFILE_BIN_CM, PROFILE_BIN_CM)
    time_at, _ = np.histogram(position[loaded], bins=edges)
    force_at, _ = np.histogram(position[loaded], bins=edges, weights=total[loaded])
    tremor_at, _ = np.histogram(position[loaded], bins=edges, weights=tremor[loaded])
    evidence = (force_at / np.maximum(time_at, 1)) * (1 + tremor_at / np.maximum(time_at, 1))
    print(f"samples {len(data)} hum {hum:g} vibration {vibration_hz:g} Hz "
          f"peak {total.max():.1f} N kPa {kpa.max():.1f} speed {np.abs(speed).mean():.2f} "
          f"psd {len(psd)} frames {len(t_sg)} dwells {n_dwells} "
          f"profile {len(evidence)} peak bin {int(np.argmax(evidence))}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: numpy_analysis.py SESSION.npy SESSION.json")
    analyse(sys.argv[1], sys.argv[2])
