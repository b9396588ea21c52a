//! The Keras 3 layout: `layers/<key>/vars/0`, `1`, ..., nested layers below their
//! parent (`layers/<key>/layers/<key>/vars`, or sub-layers under attribute names),
//! and the older `_layer_checkpoint_dependencies` spelling of `layers`.

use std::collections::HashSet;

use super::{weight, Layer};
use crate::error::Result;
use crate::{File, Group, Node};

/// Deepest nesting of layers followed.
const MAX_DEPTH: usize = 32;

pub(super) fn read(file: &File) -> Result<Vec<Layer>> {
    let root = file.root()?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for key in ["layers", "_layer_checkpoint_dependencies"] {
        if root.contains(key)? {
            walk(file, &root.group(key)?, 0, &mut seen, &mut out)?;
        }
    }
    // The model's own variables (rare), at the root's `vars`.
    if root.contains("vars")? {
        let layer = layer(file, &root, &root.group("vars")?)?;
        if !layer.weights.is_empty() {
            out.push(layer);
        }
    }
    Ok(out)
}

/// Visits the layer groups under `container` in creation order (the order of
/// [`Group::members`]).
fn walk(
    file: &File,
    container: &Group<'_>,
    depth: usize,
    seen: &mut HashSet<u64>,
    out: &mut Vec<Layer>,
) -> Result<()> {
    // A group linked twice (or into its own subtree) is walked only once: a file
    // built to branch back on itself could otherwise take exponential time.
    if !seen.insert(container.address()) {
        return Err(crate::Error::Cycle {
            file: file.path().to_path_buf(),
            object: container.path().to_string(),
            what: "group",
            offset: container.address(),
        });
    }
    if depth > MAX_DEPTH {
        return Err(crate::Error::TooDeep {
            file: file.path().to_path_buf(),
            object: container.path().to_string(),
            what: "Keras layer nesting",
            limit: MAX_DEPTH,
        });
    }
    let groups: Vec<Group<'_>> = container
        .members()?
        .into_iter()
        .filter_map(|m| match m {
            Node::Group(g) => Some(g),
            Node::Dataset(_) => None,
        })
        .collect();
    for g in groups {
        let name = g.path().rsplit('/').next().unwrap_or_default().to_string();
        if name == "vars" {
            continue;
        }
        if g.contains("vars")? {
            out.push(layer(file, &g, &g.group("vars")?)?);
        }
        // Sub-layers: a nested `layers` group or any other child group.
        walk(file, &g, depth + 1, seen, out)?;
    }
    Ok(())
}

fn layer(file: &File, g: &Group<'_>, vars: &Group<'_>) -> Result<Layer> {
    let key = g.path().rsplit('/').next().unwrap_or_default().to_string();
    let name = match vars.attribute("name")? {
        Some(a) => a.strings()?.into_iter().next().unwrap_or(key),
        None => key,
    };
    let mut names = vars.member_names()?;
    // Variables are numbered 0, 1, ...; order them numerically (10 after 9).
    names.sort_by_key(|n| (n.parse::<u64>().unwrap_or(u64::MAX), n.clone()));
    let mut weights = Vec::with_capacity(names.len());
    for n in names {
        let path = format!("{}/{}", vars.path(), n);
        weights.push(weight(file, n, &path)?);
    }
    Ok(Layer {
        name,
        path: g.path().to_string(),
        weights,
    })
}
