//! Command-line values that cannot work are refused before anything runs.

use std::process::Command;

#[test]
fn zero_counts_are_refused_with_the_flag_named() {
    let cases: &[&[&str]] = &[
        &["train", "--epochs", "0"],
        &["train", "--batch-size", "0"],
        &["generate", "--count", "0"],
    ];
    for args in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_shapes"))
            .args(*args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("must be at least 1"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(args[args.len() - 2]) || stderr.contains(args[1]),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_learning_rate_that_cannot_work_is_refused_readably() {
    for value in ["0", "-1e300", "1e999", "nan"] {
        let out = Command::new(env!("CARGO_BIN_EXE_shapes"))
            .args(["train", &format!("--learning-rate={value}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {stderr}");
        assert!(
            stderr.contains("--learning-rate")
                && stderr.contains("must be a finite number greater than 0"),
            "{value}: {stderr}"
        );
        // No number is printed digit by digit.
        assert!(!stderr.contains("0000000000"), "{value}: {stderr}");
    }
}
