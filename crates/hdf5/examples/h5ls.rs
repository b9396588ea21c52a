//! Lists the groups, datasets and attributes of an HDF5 file.
//!
//! `cargo run -p strata-hdf5 --example h5ls -- FILE`

use strata_hdf5::{File, Group, Node};

fn list(g: &Group<'_>, depth: usize) -> strata_hdf5::Result<()> {
    for a in g.attributes()? {
        let v = a
            .strings()
            .map(|s| format!("{s:?}"))
            .or_else(|_| a.numbers().map(|n| format!("{n:?}")));
        let v = v.unwrap_or_else(|e| format!("<{e}>"));
        println!(
            "{:w$}@{} = {}",
            "",
            a.name(),
            v.chars().take(100).collect::<String>(),
            w = depth * 2
        );
    }
    if depth > 16 {
        return Ok(());
    }
    for m in g.members()? {
        match m {
            Node::Group(sub) => {
                println!("{:w$}{}/", "", sub.path(), w = depth * 2);
                list(&sub, depth + 1)?;
            }
            Node::Dataset(d) => {
                let first: Vec<f32> = d.read_f32()?.into_iter().take(4).collect();
                println!(
                    "{:w$}{} {:?} {} {:?}",
                    "",
                    d.path(),
                    d.shape(),
                    d.datatype().describe(),
                    first,
                    w = depth * 2
                );
            }
        }
    }
    Ok(())
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: h5ls FILE");
        std::process::exit(2);
    };
    let result = File::open(&path).and_then(|f| list(&f.root()?, 0));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
