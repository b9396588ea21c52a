//! Hostile input: corrupted fixtures must give errors, never a panic, a hang or
//! an allocation larger than the file's size justifies.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use strata_hdf5::{keras, File, Group, Node, MAX_EXPANSION};

/// Records the largest single allocation made.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const FIXTURES: [&str; 8] = [
    "unsupported.h5",
    "vgg_tiny_legacy.h5",
    "vgg_tiny_full_legacy.h5",
    "vgg_tiny.weights.h5",
    "nested.weights.h5",
    "split_names_legacy.h5",
    "edge.h5",
    "edge_v0.h5",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).expect("fixture is committed")
}

/// Reads everything reachable; errors are fine, they end that branch.
fn walk(g: &Group<'_>, depth: usize, seen: &mut HashSet<u64>) {
    if depth > 8 || !seen.insert(g.address()) {
        return;
    }
    if let Ok(attrs) = g.attributes() {
        for a in attrs {
            let _ = a.strings();
            let _ = a.numbers();
        }
    }
    let Ok(members) = g.members() else { return };
    for m in members {
        match m {
            Node::Group(sub) => walk(&sub, depth + 1, seen),
            Node::Dataset(d) => {
                let _ = d.read_f32();
                let _ = d.attributes();
            }
        }
    }
}

fn exercise(name: &str, bytes: Vec<u8>) {
    let len = bytes.len() as u64;
    LARGEST.store(0, Ordering::Relaxed);
    if let Ok(file) = File::from_bytes(name, bytes) {
        if let Ok(root) = file.root() {
            walk(&root, 0, &mut HashSet::new());
        }
        let _ = keras::read_file(&file);
    }
    let largest = LARGEST.load(Ordering::Relaxed) as u64;
    let bound = len.max(1 << 16) * MAX_EXPANSION;
    assert!(
        largest <= bound,
        "{name}: an allocation of {largest} bytes for a file of {len} bytes"
    );
}

#[derive(Debug, Clone)]
enum Damage {
    /// XOR a byte.
    Flip(usize, u8),
    /// Cut the file.
    Truncate(usize),
    /// Write a little-endian value over 8 bytes (offsets, lengths, counts).
    Overwrite(usize, u64),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Damage::Flip(i, x)),
        any::<usize>().prop_map(Damage::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just(u64::MAX),
                Just(u64::MAX - 7),
                Just(1u64 << 40),
                Just(0u64),
                Just(8u64),
                0u64..200_000
            ]
        )
            .prop_map(|(i, v)| Damage::Overwrite(i, v)),
    ]
}

fn apply(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    for d in damages {
        let n = bytes.len();
        if n == 0 {
            break;
        }
        match *d {
            Damage::Flip(i, x) => bytes[i % n] ^= x,
            Damage::Truncate(i) => bytes.truncate(i % n),
            Damage::Overwrite(i, v) => {
                let at = i % n;
                let end = (at + 8).min(n);
                bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_files_fail_cleanly(which in 0..FIXTURES.len(), damages in prop::collection::vec(damage(), 1..4)) {
        let name = FIXTURES[which];
        exercise(name, apply(fixture(name), &damages));
    }

    /// Damage concentrated in the first 4 KiB, where superblocks, root headers and
    /// the first B-tree nodes and heaps sit.
    #[test]
    fn corrupted_metadata_fails_cleanly(which in 0..FIXTURES.len(), at in 0usize..4096, v in any::<u64>()) {
        let name = FIXTURES[which];
        exercise(name, apply(fixture(name), &[Damage::Overwrite(at, v)]));
    }
}

#[test]
fn intact_fixtures_read_within_the_bound() {
    for name in FIXTURES {
        exercise(name, fixture(name));
    }
}

#[test]
fn a_group_linked_into_itself_is_a_cycle_not_a_hang() {
    // Point the first symbol of the root's symbol table node back at the root
    // header: the walk must stop.
    let mut bytes = fixture("split_names_legacy.h5");
    let file = File::from_bytes("x.h5", bytes.clone()).unwrap();
    let root = file.root().unwrap().address();
    let snod = bytes.windows(4).position(|w| w == b"SNOD").unwrap();
    // Entry 0: name offset (8 bytes), then the object header address (8 bytes).
    bytes[snod + 16..snod + 24].copy_from_slice(&root.to_le_bytes());
    exercise("cycle.h5", bytes.clone());
    let file = File::from_bytes("cycle.h5", bytes).unwrap();
    let _ = keras::read_file(&file);
}
