//! What the benchmarks share for counting and timing (a folder, so that cargo does not take it
//! for a benchmark of its own).

use std::time::Duration;

/// A count from the environment (`LULU_BENCH_ROUNDS` and the like), or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The median (of an even count, the mean of the two middle samples). Sorts `samples`.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2
    } else {
        samples[mid]
    }
}

/// Milliseconds, for a format of the caller's own.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Milliseconds to a tenth, with the unit.
#[allow(dead_code, reason = "not every benchmark prints durations this way")]
pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", millis(duration))
}
