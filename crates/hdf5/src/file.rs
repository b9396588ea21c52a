//! Opening a file and walking its groups.

use std::path::{Path, PathBuf};

use crate::attribute::{self, Attribute};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::links::{self, Target};
use crate::object_header::{self, kind, ObjectHeader};
use crate::source::Source;

/// An HDF5 file, read whole into memory and opened read-only.
#[derive(Debug)]
pub struct File {
    src: Source,
    root: u64,
    superblock_version: u8,
}

impl File {
    /// Reads the file at `path` and checks its superblock.
    pub fn open(path: impl AsRef<Path>) -> Result<File> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| Error::Io {
            file: path.to_path_buf(),
            source,
        })?;
        File::from_bytes(path, data)
    }

    /// Opens a file already in memory; `name` is used in error messages.
    pub fn from_bytes(name: impl Into<PathBuf>, data: Vec<u8>) -> Result<File> {
        let mut src = Source::new(name.into(), data);
        let sb = crate::superblock::read(&mut src)?;
        Ok(File {
            src,
            root: sb.root,
            superblock_version: sb.version,
        })
    }

    /// The file's path (or the name given to [`File::from_bytes`]).
    pub fn path(&self) -> &Path {
        self.src.path()
    }

    /// The superblock version (0 to 3).
    pub fn superblock_version(&self) -> u8 {
        self.superblock_version
    }

    /// The root group `/`.
    pub fn root(&self) -> Result<Group<'_>> {
        Group::open(&self.src, "/".to_string(), self.root)
    }

    /// The object at an absolute or root-relative path such as `layers/dense/vars/0`.
    pub fn get(&self, path: &str) -> Result<Node<'_>> {
        let mut node = Node::Group(self.root()?);
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = match node {
                Node::Group(g) => g.member(part)?,
                Node::Dataset(d) => {
                    return Err(Error::WrongKind {
                        file: self.src.path.clone(),
                        object: d.path().to_string(),
                        expected: "a group".to_string(),
                        found: "a dataset".to_string(),
                    })
                }
            };
        }
        Ok(node)
    }

    /// The group at `path`.
    pub fn group(&self, path: &str) -> Result<Group<'_>> {
        self.get(path)?.into_group()
    }

    /// The dataset at `path`.
    pub fn dataset(&self, path: &str) -> Result<Dataset<'_>> {
        self.get(path)?.into_dataset()
    }
}

/// A group or a dataset.
#[derive(Debug, Clone)]
pub enum Node<'f> {
    /// A group.
    Group(Group<'f>),
    /// A dataset.
    Dataset(Dataset<'f>),
}

impl<'f> Node<'f> {
    /// The group, or a [`Error::WrongKind`] naming the path.
    pub fn into_group(self) -> Result<Group<'f>> {
        match self {
            Node::Group(g) => Ok(g),
            Node::Dataset(d) => Err(wrong(d.file_path(), d.path(), "a group", "a dataset")),
        }
    }

    /// The dataset, or a [`Error::WrongKind`] naming the path.
    pub fn into_dataset(self) -> Result<Dataset<'f>> {
        match self {
            Node::Dataset(d) => Ok(d),
            Node::Group(g) => Err(wrong(g.src.path(), g.path(), "a dataset", "a group")),
        }
    }
}

fn wrong(file: &Path, object: &str, expected: &str, found: &str) -> Error {
    Error::WrongKind {
        file: file.to_path_buf(),
        object: object.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// A group: named members (groups and datasets) and attributes.
#[derive(Debug, Clone)]
pub struct Group<'f> {
    src: &'f Source,
    path: String,
    header: ObjectHeader<'f>,
}

impl<'f> Group<'f> {
    fn open(src: &'f Source, path: String, addr: u64) -> Result<Self> {
        let header = object_header::read(src, addr).map_err(|e| e.in_object(&path))?;
        Ok(Group { src, path, header })
    }

    /// The group's path, `/` for the root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file address of the group's object header.
    pub fn address(&self) -> u64 {
        self.header.addr
    }

    /// Names of the members, in creation order as the file records it (the order
    /// of names in a symbol table's heap, of link messages, or of links in a dense
    /// group's heap).
    pub fn member_names(&self) -> Result<Vec<String>> {
        Ok(self.links()?.into_iter().map(|(n, _)| n).collect())
    }

    fn links(&self) -> Result<Vec<(String, Target)>> {
        links::members(self.src, &self.header).map_err(|e| e.in_object(&self.path))
    }

    /// All members opened, in the order of [`Group::member_names`].
    pub fn members(&self) -> Result<Vec<Node<'f>>> {
        let links = self.links()?;
        let mut out = Vec::with_capacity(links.len());
        for (name, target) in links {
            out.push(self.open_target(&name, target)?);
        }
        Ok(out)
    }

    /// The member called `name`.
    pub fn member(&self, name: &str) -> Result<Node<'f>> {
        let target = self
            .links()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::NotFound {
                file: self.src.path.clone(),
                object: self.path.clone(),
                what: "member",
                name: name.to_string(),
            })?;
        self.open_target(name, target)
    }

    /// The member group called `name`.
    pub fn group(&self, name: &str) -> Result<Group<'f>> {
        self.member(name)?.into_group()
    }

    /// The member dataset called `name`.
    pub fn dataset(&self, name: &str) -> Result<Dataset<'f>> {
        self.member(name)?.into_dataset()
    }

    /// Whether a member called `name` exists.
    pub fn contains(&self, name: &str) -> Result<bool> {
        Ok(self.links()?.iter().any(|(n, _)| n == name))
    }

    fn child_path(&self, name: &str) -> String {
        if self.path == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.path)
        }
    }

    fn open_target(&self, name: &str, target: Target) -> Result<Node<'f>> {
        let path = self.child_path(name);
        let src = self.src;
        let addr = match target {
            Target::Hard(a) => a,
            Target::Soft(to) => {
                return Err(src
                    .unsupported(format!("soft link to {to:?}"), self.header.addr)
                    .in_object(&path))
            }
            Target::Other(t) => {
                return Err(src
                    .unsupported(format!("link of type {t}"), self.header.addr)
                    .in_object(&path))
            }
        };
        let header = object_header::read(src, addr).map_err(|e| e.in_object(&path))?;
        if header.first(kind::LAYOUT).is_some() || header.first(kind::DATATYPE).is_some() {
            if header.first(kind::EXTERNAL_FILES).is_some() {
                return Err(src
                    .unsupported("external data files", addr)
                    .in_object(&path));
            }
            Ok(Node::Dataset(Dataset::new(src, path, header)?))
        } else {
            Ok(Node::Group(Group { src, path, header }))
        }
    }

    /// All attributes of the group.
    pub fn attributes(&self) -> Result<Vec<Attribute<'f>>> {
        attribute::all(self.src, &self.header, &self.path).map_err(|e| e.in_object(&self.path))
    }

    /// The attribute called `name`, if there is one.
    pub fn attribute(&self, name: &str) -> Result<Option<Attribute<'f>>> {
        Ok(self.attributes()?.into_iter().find(|a| a.name() == name))
    }

    pub(crate) fn file_path(&self) -> &Path {
        self.src.path()
    }
}
