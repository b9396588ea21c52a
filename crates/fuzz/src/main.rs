//! `strata-fuzz TARGET --seconds N [--seed S] [--out DIR] [--memory-mib M]`: mutation
//! fuzzing of one reader for N seconds (see the library's documentation).
//!
//! The inputs run in a child process (`strata-fuzz worker …`) limited to M MiB of address
//! space (default 4096, through the shell's `ulimit -v`), so an abort (allocation failure,
//! stack overflow) ends only the child: it is counted, its input kept, and a new child goes
//! on. An input that runs longer than 10 s is a hang: the child is killed, the input kept.
//! Kept inputs go to `DIR/crashes/` (default `target/fuzz/TARGET`). The last line printed
//! gives the counts and the peak resident memory of the children.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use strata_fuzz::{mutate, run, seeds, Outcome, Rng, Target, TARGETS};

/// An input running longer than this is a hang.
const HANG: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    inputs: u64,
    accepted: u64,
    rejected: u64,
    guarded: u64,
    panics: u64,
    aborts: u64,
    hangs: u64,
    peak_kib: u64,
}

impl Counts {
    fn line(&self) -> String {
        format!(
            "inputs={} accepted={} clean_errors={} guarded_panics={} panics={} aborts={} hangs={} peak_kib={}",
            self.inputs,
            self.accepted,
            self.rejected,
            self.guarded,
            self.panics,
            self.aborts,
            self.hangs,
            self.peak_kib
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let mut c = Counts::default();
        for field in line.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "inputs" => c.inputs = v,
                "accepted" => c.accepted = v,
                "clean_errors" => c.rejected = v,
                "guarded_panics" => c.guarded = v,
                "panics" => c.panics = v,
                "aborts" => c.aborts = v,
                "hangs" => c.hangs = v,
                "peak_kib" => c.peak_kib = v,
                _ => return None,
            }
        }
        Some(c)
    }

    fn add(&mut self, o: &Counts) {
        self.inputs += o.inputs;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.guarded += o.guarded;
        self.panics += o.panics;
        self.aborts += o.aborts;
        self.hangs += o.hangs;
        self.peak_kib = self.peak_kib.max(o.peak_kib);
    }
}

/// Peak resident memory (VmHWM) of process `pid` (`self` for this one), in KiB.
fn peak_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Args {
    target: Target,
    seconds: u64,
    seed: u64,
    out: PathBuf,
    memory_mib: u64,
    worker: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1).peekable();
    let worker = args.peek().is_some_and(|a| a == "worker");
    if worker {
        args.next();
    }
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name()).collect();
    let target_name = args.next().ok_or_else(|| {
        format!(
            "usage: strata-fuzz TARGET --seconds N; targets: {}",
            names.join(", ")
        )
    })?;
    let target = Target::from_name(&target_name).ok_or_else(|| {
        format!(
            "unknown target {target_name:?}; targets: {}",
            names.join(", ")
        )
    })?;
    let mut parsed = Args {
        target,
        seconds: 60,
        seed: 1,
        out: PathBuf::from("target/fuzz").join(target.name()),
        memory_mib: 4096,
        worker,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} takes a whole number, found {value:?}"))
        };
        match flag.as_str() {
            "--seconds" => parsed.seconds = number()?.max(1),
            "--seed" => parsed.seed = number()?,
            "--memory-mib" => parsed.memory_mib = number()?.max(64),
            "--out" => parsed.out = PathBuf::from(&value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(parsed)
}

/// The worker: runs inputs until the time is up, keeps panicking ones, prints the counts.
fn worker(args: &Args) -> ExitCode {
    static LAST_PANIC: Mutex<String> = Mutex::new(String::new());
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.to_string();
        }
    }));
    let scratch = args.out.join("work");
    let crashes = args.out.join("crashes");
    let _ = std::fs::create_dir_all(&scratch);
    let _ = std::fs::create_dir_all(&crashes);
    let seeds = seeds(args.target, &scratch);
    let mut rng = Rng::new(args.seed);
    let mut counts = Counts::default();
    let end = Instant::now() + Duration::from_secs(args.seconds);
    while Instant::now() < end {
        let input = mutate(args.target, &seeds, &mut rng);
        // The supervisor keeps this file when the process dies or hangs on it.
        let _ = std::fs::write(args.out.join("current.bin"), &input);
        counts.inputs += 1;
        match run(args.target, &input, &scratch) {
            Outcome::Accepted => counts.accepted += 1,
            Outcome::Rejected => counts.rejected += 1,
            Outcome::GuardedPanic => counts.guarded += 1,
            Outcome::Panicked(message) => {
                counts.panics += 1;
                let name = format!(
                    "{}-panic-{}-{}.bin",
                    args.target.name(),
                    args.seed,
                    counts.inputs
                );
                let _ = std::fs::write(crashes.join(&name), &input);
                let location = LAST_PANIC.lock().map(|l| l.clone()).unwrap_or_default();
                eprintln!("panic ({name}): {message} [{location}]");
            }
        }
    }
    counts.peak_kib = peak_kib("self");
    println!("{}", counts.line());
    ExitCode::SUCCESS
}

fn spawn(args: &Args, seconds: u64, seed: u64) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let script = format!(
        "ulimit -v {} && exec \"$0\" worker {} --seconds {seconds} --seed {seed} --out \"$1\"",
        args.memory_mib * 1024,
        args.target.name()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(exe)
        .arg(&args.out)
        .stdout(Stdio::piped())
        .spawn()
}

fn keep(args: &Args, kind: &str, seed: u64) {
    let from = args.out.join("current.bin");
    let to = args
        .out
        .join("crashes")
        .join(format!("{}-{kind}-{seed}.bin", args.target.name()));
    let _ = std::fs::create_dir_all(args.out.join("crashes"));
    let _ = std::fs::copy(&from, &to);
    eprintln!("{kind}: input kept as {}", to.display());
}

fn modified_ago(path: &Path) -> Duration {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

/// The supervisor: runs workers until the time is up, counting their aborts and hangs.
fn supervise(args: &Args) -> ExitCode {
    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let mut total = Counts::default();
    let mut seed = args.seed;
    while Instant::now() < end {
        let left = end
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        let mut child = match spawn(args, left, seed) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: cannot start a worker: {e}");
                return ExitCode::FAILURE;
            }
        };
        let pid = child.id().to_string();
        let mut peak = 0;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(_) => break None,
            }
            peak = peak.max(peak_kib(&pid));
            if modified_ago(&args.out.join("current.bin")) > HANG {
                let _ = child.kill();
                let _ = child.wait();
                total.hangs += 1;
                keep(args, "hang", seed);
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut output = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut out, &mut output);
        }
        match output.lines().last().and_then(Counts::parse) {
            Some(counts) => total.add(&counts),
            None => {
                if status.is_some() {
                    total.aborts += 1;
                    keep(args, "abort", seed);
                }
                // The input that ended the worker was counted by no one.
                total.inputs += 1;
            }
        }
        total.peak_kib = total.peak_kib.max(peak);
        seed = seed.wrapping_add(1_000_003);
    }
    println!(
        "{} ran {:.0} s: {}",
        args.target.name(),
        started.elapsed().as_secs_f64(),
        total.line()
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match parse_args() {
        Ok(args) if args.worker => worker(&args),
        Ok(args) => supervise(&args),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
