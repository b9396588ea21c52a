//! Where the app looks for MNIST is decided at run time, and a folder without it gives an
//! error that says how to get it.

use std::process::Command;

#[test]
fn help_names_the_run_time_default_not_a_build_path() {
    let out = Command::new(env!("CARGO_BIN_EXE_mnist"))
        .args(["train", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    assert!(help.contains("STRATA_DATA"), "{help}");
    assert!(!help.contains(env!("CARGO_MANIFEST_DIR")), "{help}");
}

#[test]
fn a_folder_without_mnist_says_how_to_get_it() {
    let empty = std::env::temp_dir().join(format!("mnist-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    // From the flag, and from STRATA_DATA when there is no flag.
    let runs = [
        Command::new(env!("CARGO_BIN_EXE_mnist"))
            .args(["train", "--data"])
            .arg(&empty)
            .output()
            .unwrap(),
        Command::new(env!("CARGO_BIN_EXE_mnist"))
            .arg("train")
            .env("STRATA_DATA", &empty)
            .output()
            .unwrap(),
    ];
    for out in runs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&*empty.to_string_lossy()), "{stderr}");
        assert!(stderr.contains("STRATA_DATA"), "{stderr}");
        assert!(stderr.contains("mnist download"), "{stderr}");
    }
    std::fs::remove_dir_all(&empty).unwrap();
}
