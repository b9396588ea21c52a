//! A cost model of synchronous data-parallel training over a ring all-reduce, to project
//! scaling beyond the machines at hand (the table in `docs/benchmarks.md` comes from
//! `cargo run -p strata-distributed --example scaling_table`).
//!
//! A ring all-reduce of `b` bytes over `N` ranks sends `2(N−1)/N · b` bytes from each rank
//! (a reduce-scatter and an all-gather of `N−1` steps each) and pays `2(N−1)` message
//! latencies per bucket. A step of weak scaling (fixed batch per rank) takes the compute
//! time of one rank plus the all-reduce when the reduction does not overlap the backward
//! pass (as ours by default does not); the efficiency is compute ÷ (compute + all-reduce).

/// A network link between machines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Bandwidth each way, bits per second.
    pub bits_per_second: f64,
    /// Latency of one message (one hop of the ring), seconds.
    pub latency_seconds: f64,
}

impl Link {
    /// Ethernet at `gbit` Gbit/s with `latency_us` µs per message.
    pub fn gbit(gbit: f64, latency_us: f64) -> Self {
        Self {
            bits_per_second: gbit * 1e9,
            latency_seconds: latency_us * 1e-6,
        }
    }
}

/// Seconds of a ring all-reduce of `bytes` over `ranks` ranks on `link`, in buckets of at
/// most `bucket_bytes` (each bucket pays the ring's `2(N−1)` latencies). 0 for one rank.
pub fn ring_allreduce_seconds(ranks: usize, bytes: f64, link: Link, bucket_bytes: f64) -> f64 {
    if ranks <= 1 || bytes <= 0.0 {
        return 0.0;
    }
    let n = ranks as f64;
    let buckets = (bytes / bucket_bytes.max(1.0)).ceil();
    let transfer = 2.0 * (n - 1.0) / n * bytes * 8.0 / link.bits_per_second;
    let latency = buckets * 2.0 * (n - 1.0) * link.latency_seconds;
    transfer + latency
}

/// Compute ÷ (compute + communication): the fraction of linear speed-up kept.
pub fn scaling_efficiency(compute_seconds: f64, communication_seconds: f64) -> f64 {
    compute_seconds / (compute_seconds + communication_seconds).max(f64::MIN_POSITIVE)
}

/// A model trained data-parallel: its size and one rank's speed.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The model's name.
    pub name: String,
    /// Trainable parameters (the gradient is 4 bytes each, `f32`).
    pub parameters: u64,
    /// Samples per rank per step.
    pub batch_per_rank: usize,
    /// One rank's training speed, samples per second.
    pub samples_per_second: f64,
}

impl Workload {
    /// Seconds of compute of one step on one rank.
    pub fn compute_seconds(&self) -> f64 {
        self.batch_per_rank as f64 / self.samples_per_second
    }

    /// Gradient bytes per step (`f32`).
    pub fn gradient_bytes(&self) -> f64 {
        self.parameters as f64 * 4.0
    }

    /// Scaling efficiency on `ranks` machines linked by `link`.
    pub fn efficiency(&self, ranks: usize, link: Link, bucket_bytes: f64) -> f64 {
        scaling_efficiency(
            self.compute_seconds(),
            ring_allreduce_seconds(ranks, self.gradient_bytes(), link, bucket_bytes),
        )
    }
}

/// A Markdown table: one row per workload and link, with the all-reduce time and the
/// efficiency at each number of machines in `ranks`.
pub fn projection_table(
    workloads: &[Workload],
    links: &[(&str, Link)],
    ranks: &[usize],
    bucket_bytes: f64,
) -> String {
    let mut out = String::from("| model | gradient | compute/step | link |");
    for n in ranks {
        out.push_str(&format!(" {n} machines: all-reduce, efficiency |"));
    }
    out.push_str("\n|---|---|---|---|");
    out.push_str(&"---|".repeat(ranks.len()));
    out.push('\n');
    for w in workloads {
        for (name, link) in links {
            out.push_str(&format!(
                "| {} (batch {}/rank) | {:.1} MB | {:.1} ms | {name} |",
                w.name,
                w.batch_per_rank,
                w.gradient_bytes() / 1e6,
                w.compute_seconds() * 1e3
            ));
            for &n in ranks {
                let t = ring_allreduce_seconds(n, w.gradient_bytes(), *link, bucket_bytes);
                out.push_str(&format!(
                    " {:.1} ms, {:.0}% |",
                    t * 1e3,
                    100.0 * w.efficiency(n, *link, bucket_bytes)
                ));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_moves_two_n_minus_one_over_n_of_the_gradient() {
        // 1 GB at 8 Gbit/s is 1 s one way; 2 ranks send 2·1/2 of it, 4 ranks 2·3/4.
        let link = Link::gbit(8.0, 0.0);
        let bucket = f64::INFINITY;
        assert_eq!(ring_allreduce_seconds(1, 1e9, link, bucket), 0.0);
        assert!((ring_allreduce_seconds(2, 1e9, link, bucket) - 1.0).abs() < 1e-12);
        assert!((ring_allreduce_seconds(4, 1e9, link, bucket) - 1.5).abs() < 1e-12);
        // Towards 2× for many ranks.
        assert!((ring_allreduce_seconds(1000, 1e9, link, bucket) - 1.998).abs() < 1e-9);
    }

    #[test]
    fn latency_is_paid_per_bucket_and_hop() {
        let link = Link::gbit(1e12, 10.0); // bandwidth ~free: latency only
        let t = ring_allreduce_seconds(8, 4e6, link, 1e6);
        // 4 buckets × 2·7 hops × 10 µs = 560 µs.
        assert!((t - 560e-6).abs() < 1e-7, "{t}");
    }

    #[test]
    fn efficiency_falls_as_communication_grows() {
        let w = Workload {
            name: "m".into(),
            parameters: 1_000_000,
            batch_per_rank: 32,
            samples_per_second: 320.0,
        };
        assert!((w.compute_seconds() - 0.1).abs() < 1e-12);
        let slow = w.efficiency(8, Link::gbit(10.0, 25.0), 4e6);
        let fast = w.efficiency(8, Link::gbit(100.0, 25.0), 4e6);
        assert!(0.0 < slow && slow < fast && fast < 1.0, "{slow} {fast}");
        assert_eq!(w.efficiency(1, Link::gbit(10.0, 25.0), 4e6), 1.0);
        let table = projection_table(
            &[w],
            &[("10 Gbit/s", Link::gbit(10.0, 25.0))],
            &[8, 64],
            4e6,
        );
        assert_eq!(table.lines().count(), 3, "{table}");
        assert!(
            table.contains("| m (batch 32/rank) | 4.0 MB | 100.0 ms | 10 Gbit/s |"),
            "{table}"
        );
    }
}
