//! The legacy Keras 2 layout: `layer_names` on the weights group, `weight_names`
//! on each layer group, datasets at `<layer>/<weight name>`.

use super::{weight, Layer};
use crate::error::{Error, Result};
use crate::{File, Group};

/// Most `layer_names0`, `layer_names1`, ... parts read.
const MAX_PARTS: usize = 4096;

/// The group that holds the weights: the root for `save_weights`, `model_weights`
/// for a whole saved model; `None` when neither has `layer_names`.
pub(super) fn weights_group(file: &File) -> Result<Option<Group<'_>>> {
    let root = file.root()?;
    if has_names(&root, "layer_names")? {
        return Ok(Some(root));
    }
    if root.contains("model_weights")? {
        let g = root.group("model_weights")?;
        if has_names(&g, "layer_names")? {
            return Ok(Some(g));
        }
    }
    Ok(None)
}

fn has_names(g: &Group<'_>, key: &str) -> Result<bool> {
    let attrs = g.attributes()?;
    Ok(attrs
        .iter()
        .any(|a| a.name() == key || a.name() == format!("{key}0")))
}

/// The strings of attribute `key`, or of `key0`, `key1`, ... when Keras split it
/// to stay under HDF5's 64 KiB attribute limit.
pub(super) fn names(g: &Group<'_>, key: &str) -> Result<Vec<String>> {
    let attrs = g.attributes()?;
    if let Some(a) = attrs.iter().find(|a| a.name() == key) {
        return a.strings();
    }
    let mut out = Vec::new();
    for i in 0..MAX_PARTS {
        let part = format!("{key}{i}");
        match attrs.iter().find(|a| a.name() == part) {
            Some(a) => out.extend(a.strings()?),
            None if i == 0 => {
                return Err(Error::NotFound {
                    file: g_path(g),
                    object: g.path().to_string(),
                    what: "attribute",
                    name: key.to_string(),
                })
            }
            None => break,
        }
    }
    Ok(out)
}

fn g_path(g: &Group<'_>) -> std::path::PathBuf {
    g.file_path().to_path_buf()
}

pub(super) fn read(file: &File) -> Result<Vec<Layer>> {
    let Some(root) = weights_group(file)? else {
        return Err(Error::NotFound {
            file: file.path().to_path_buf(),
            object: "/".to_string(),
            what: "attribute",
            name: "layer_names".to_string(),
        });
    };
    let mut layers = Vec::new();
    for name in names(&root, "layer_names")? {
        let group = root.group(&name)?;
        let mut weights = Vec::new();
        for w in names(&group, "weight_names")? {
            let path = format!("{}/{}", group.path(), w);
            weights.push(weight(file, w, &path)?);
        }
        layers.push(Layer {
            name,
            path: group.path().to_string(),
            weights,
        });
    }
    Ok(layers)
}
