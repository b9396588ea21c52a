//! Filter files: rows of numbers as text, or nested JSON arrays; errors name the line and
//! column of the fault.
//!
//! Text: one row per line, numbers separated by spaces, tabs or commas; `#` starts a
//! comment; a blank line ends a channel, so a `C×H×W` filter is `C` blocks of `H` rows.
//! JSON (a file whose first character is `[`): `[[…], …]` for `H×W`, `[[[…], …], …]` for
//! `C×H×W`.

use std::path::{Path, PathBuf};

use crate::error::{FilterError, Result};
use crate::kernels::Filter;

/// The largest filter file read (a filter is a few numbers; this bounds the allocation).
pub const MAX_FILTER_BYTES: u64 = 1 << 20;

/// A filter read from a file, with where each channel starts (for later errors).
#[derive(Debug, Clone)]
pub struct ParsedFilter {
    /// The filter.
    pub filter: Filter,
    /// The file.
    pub path: PathBuf,
    /// Line and column (1-based) where each channel starts; one entry for a plane filter.
    pub channel_starts: Vec<(usize, usize)>,
}

impl ParsedFilter {
    /// Checks that a `C×H×W` filter has as many channels as the image (`image_channels`),
    /// pointing at the first surplus channel, or at the last one when some are missing.
    ///
    /// # Errors
    /// The channel counts differ.
    pub fn check_channels(&self, image_channels: usize) -> Result<()> {
        match self.filter.channels() {
            Some(c) if c != image_channels => {
                let at = self.channel_starts[image_channels.min(c - 1)];
                Err(FilterError::Parse {
                    path: self.path.clone(),
                    line: at.0,
                    column: at.1,
                    message: format!(
                        "the filter has {c} channels but the image has {image_channels} \
                         (use --color for RGB, --grey for one channel, or a plane filter)"
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Reads a filter file (text or JSON, see the module documentation).
///
/// # Errors
/// A file that cannot be read or is larger than [`MAX_FILTER_BYTES`], and malformed
/// contents: a non-number, ragged rows, channels of different heights, no values.
pub fn read_filter_file(path: &Path) -> Result<ParsedFilter> {
    let io = |source| FilterError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILTER_BYTES {
        return Err(FilterError::invalid(
            path.display().to_string(),
            format!("{size} bytes is too large for a filter file (at most {MAX_FILTER_BYTES})"),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse_filter(&text, path)
}

/// Parses a filter from text; `path` names it in errors.
///
/// ```
/// use filters::parse_filter;
/// let f = parse_filter("1 0 -1\n2 0 -2\n1, 0, -1\n", "sobel.txt".as_ref())?;
/// assert_eq!(f.filter.shape, vec![3, 3]);
/// let err = parse_filter("1 2\n3 x\n", "bad.txt".as_ref()).unwrap_err();
/// assert_eq!(err.to_string(), "bad.txt:2:3: \"x\" is not a number");
/// # Ok::<(), filters::FilterError>(())
/// ```
///
/// # Errors
/// As [`read_filter_file`].
pub fn parse_filter(text: &str, path: &Path) -> Result<ParsedFilter> {
    if text.trim_start().starts_with('[') {
        parse_json(text, path)
    } else {
        parse_text(text, path)
    }
}

/// A parse error at `line`, `column`.
fn error(path: &Path, (line, column): (usize, usize), message: impl Into<String>) -> FilterError {
    FilterError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message: message.into(),
    }
}

/// Parses a number token the way the rest of the world writes them.
fn number(token: &str, path: &Path, at: (usize, usize)) -> Result<f32> {
    match token.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(error(path, at, format!("{token:?} is not a number"))),
    }
}

/// A row of numbers with where it and each value start.
struct Row {
    at: (usize, usize),
    values: Vec<(f32, (usize, usize))>,
}

/// Assembles channels of rows into a filter, checking that every row has the first row's
/// length and every channel the first channel's height.
fn assemble(channels: Vec<Vec<Row>>, path: &Path) -> Result<ParsedFilter> {
    let Some(first) = channels.first().and_then(|c| c.first()) else {
        return Err(error(path, (1, 1), "the file holds no numbers"));
    };
    let (height, width) = (channels[0].len(), first.values.len());
    if width == 0 {
        return Err(error(path, first.at, "the first row is empty"));
    }
    let mut values = Vec::new();
    for channel in &channels {
        if channel.len() != height {
            return Err(error(
                path,
                channel[0].at,
                format!(
                    "this channel has {} rows, the first has {height}",
                    channel.len()
                ),
            ));
        }
        for row in channel {
            if row.values.len() != width {
                let at = row.values.get(width).map_or(row.at, |v| v.1);
                return Err(error(
                    path,
                    at,
                    format!(
                        "this row has {} values, the first row has {width} (ragged rows)",
                        row.values.len()
                    ),
                ));
            }
            values.extend(row.values.iter().map(|v| v.0));
        }
    }
    let shape = if channels.len() == 1 {
        vec![height, width]
    } else {
        vec![channels.len(), height, width]
    };
    Ok(ParsedFilter {
        filter: Filter { shape, values },
        path: path.to_path_buf(),
        channel_starts: channels.iter().map(|c| c[0].at).collect(),
    })
}

fn parse_text(text: &str, path: &Path) -> Result<ParsedFilter> {
    let mut channels: Vec<Vec<Row>> = vec![Vec::new()];
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("");
        let mut values = Vec::new();
        let mut start = None;
        let mut token_start = 0;
        let mut token = String::new();
        let chars: Vec<char> = content.chars().collect();
        for (j, &ch) in chars.iter().chain([' '].iter()).enumerate() {
            if ch.is_whitespace() || ch == ',' {
                if !token.is_empty() {
                    let at = (i + 1, token_start + 1);
                    values.push((number(&token, path, at)?, at));
                    token.clear();
                }
            } else {
                if token.is_empty() {
                    token_start = j;
                    start.get_or_insert(j);
                }
                token.push(ch);
            }
        }
        match start {
            Some(col) => channels
                .last_mut()
                .expect("at least one channel")
                .push(Row {
                    at: (i + 1, col + 1),
                    values,
                }),
            None if line.trim().is_empty() && channels.last().is_some_and(|c| !c.is_empty()) => {
                channels.push(Vec::new())
            }
            None => {}
        }
    }
    if channels.last().is_some_and(|c| c.is_empty()) {
        channels.pop();
    }
    assemble(channels, path)
}

/// A cursor over JSON text that knows its line and column.
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl Cursor<'_> {
    fn skip_space(&mut self) {
        while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
            self.bump();
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn at(&self) -> (usize, usize) {
        (self.line, self.column)
    }
}

/// A JSON value of the filter grammar: a number or an array.
enum Json {
    Number(f32, (usize, usize)),
    Array(Vec<Json>, (usize, usize)),
}

impl Json {
    fn at(&self) -> (usize, usize) {
        match self {
            Self::Number(_, at) | Self::Array(_, at) => *at,
        }
    }
}

fn json_value(cur: &mut Cursor, path: &Path, depth: usize) -> Result<Json> {
    cur.skip_space();
    let at = cur.at();
    match cur.chars.peek() {
        Some('[') => {
            if depth > 3 {
                return Err(error(path, at, "arrays nest deeper than C×H×W"));
            }
            cur.bump();
            let mut items = Vec::new();
            cur.skip_space();
            if cur.chars.peek() == Some(&']') {
                cur.bump();
                return Ok(Json::Array(items, at));
            }
            loop {
                items.push(json_value(cur, path, depth + 1)?);
                cur.skip_space();
                let here = cur.at();
                match cur.bump() {
                    Some(',') => {}
                    Some(']') => return Ok(Json::Array(items, at)),
                    Some(c) => {
                        return Err(error(
                            path,
                            here,
                            format!("expected , or ] but found {c:?}"),
                        ))
                    }
                    None => return Err(error(path, here, "the file ends inside an array")),
                }
            }
        }
        Some(_) => {
            let mut token = String::new();
            while let Some(&c) = cur.chars.peek() {
                if c.is_whitespace() || c == ',' || c == ']' || c == '[' {
                    break;
                }
                token.push(c);
                cur.bump();
            }
            if token.is_empty() {
                let c = cur.chars.peek().copied().unwrap_or(' ');
                return Err(error(
                    path,
                    at,
                    format!("expected a number but found {c:?}"),
                ));
            }
            Ok(Json::Number(number(&token, path, at)?, at))
        }
        None => Err(error(path, at, "the file ends where a value should be")),
    }
}

/// The rows of a JSON array of arrays of numbers.
fn json_rows(items: &[Json], path: &Path) -> Result<Vec<Row>> {
    items
        .iter()
        .map(|item| match item {
            Json::Array(values, at) => Ok(Row {
                at: *at,
                values: values
                    .iter()
                    .map(|v| match v {
                        Json::Number(x, at) => Ok((*x, *at)),
                        Json::Array(_, at) => {
                            Err(error(path, *at, "expected a number, found an array"))
                        }
                    })
                    .collect::<Result<_>>()?,
            }),
            Json::Number(_, at) => Err(error(
                path,
                *at,
                "expected a row (an array), found a number",
            )),
        })
        .collect()
}

fn parse_json(text: &str, path: &Path) -> Result<ParsedFilter> {
    let mut cur = Cursor {
        chars: text.chars().peekable(),
        line: 1,
        column: 1,
    };
    let root = json_value(&mut cur, path, 1)?;
    cur.skip_space();
    if cur.chars.peek().is_some() {
        return Err(error(path, cur.at(), "unexpected text after the filter"));
    }
    let Json::Array(items, at) = root else {
        return Err(error(path, root.at(), "a filter must be an array of rows"));
    };
    let volume = items.first().is_some_and(|first| {
        matches!(first, Json::Array(rows, _) if rows.first().is_some_and(|r| matches!(r, Json::Array(..))))
    });
    if items.is_empty() {
        return Err(error(path, at, "the filter is empty"));
    }
    if volume {
        let channels = items
            .iter()
            .map(|channel| match channel {
                Json::Array(rows, at) if !rows.is_empty() => {
                    let mut rows = json_rows(rows, path)?;
                    rows[0].at = *at;
                    Ok(rows)
                }
                other => Err(error(
                    path,
                    other.at(),
                    "expected a channel (an array of rows)",
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut parsed = assemble(channels, path)?;
        let c = parsed.channel_starts.len();
        let [h, w] = parsed.filter.size();
        parsed.filter.shape = vec![c, h, w];
        Ok(parsed)
    } else {
        assemble(vec![json_rows(&items, path)?], path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedFilter> {
        parse_filter(text, Path::new("f.txt"))
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn text_planes_and_volumes() {
        let f = parse("# Sobel\n 1 0 -1\n2,0,-2\n1\t0 -1 # last\n").unwrap();
        assert_eq!(f.filter.shape, vec![3, 3]);
        assert_eq!(f.filter.values[3..6], [2., 0., -2.]);
        let f = parse("1 2\n3 4\n\n\n5 6\n7 8\n\n").unwrap();
        assert_eq!(f.filter.shape, vec![2, 2, 2]);
        assert_eq!(f.channel_starts, vec![(1, 1), (5, 1)]);
        assert_eq!(
            f.filter.values,
            (1..=8).map(|v| v as f32).collect::<Vec<_>>()
        );
    }

    #[test]
    fn text_errors_name_line_and_column() {
        assert_eq!(
            message("1 2 3\n4 5\n"),
            "f.txt:2:1: this row has 2 values, the first row has 3 (ragged rows)"
        );
        assert_eq!(
            message("1 2\n4 5 6\n"),
            "f.txt:2:5: this row has 3 values, the first row has 2 (ragged rows)"
        );
        assert_eq!(
            message("1 2\n4  five\n"),
            "f.txt:2:4: \"five\" is not a number"
        );
        assert_eq!(
            message("1 2\n3 4\n\n5 6\n"),
            "f.txt:4:1: this channel has 1 rows, the first has 2"
        );
        assert_eq!(message("1 nan\n"), "f.txt:1:3: \"nan\" is not a number");
        assert!(message("# nothing\n\n").contains("no numbers"));
    }

    #[test]
    fn json_planes_and_volumes() {
        let f = parse("[[1, 2], [3, 4]]").unwrap();
        assert_eq!(f.filter.shape, vec![2, 2]);
        let f = parse("[\n [[1, 2], [3, 4]],\n [[5, 6], [7, 8]]\n]").unwrap();
        assert_eq!(f.filter.shape, vec![2, 2, 2]);
        assert_eq!(f.channel_starts, vec![(2, 2), (3, 2)]);
        assert_eq!(f.filter.values[4], 5.0);
    }

    #[test]
    fn json_errors_name_line_and_column() {
        assert_eq!(
            message("[[1, 2],\n [3]]"),
            "f.txt:2:2: this row has 1 values, the first row has 2 (ragged rows)"
        );
        assert_eq!(
            message("[[1, 2],\n [3, \"a\"]]"),
            "f.txt:2:6: \"\\\"a\\\"\" is not a number"
        );
        assert_eq!(
            message("[[1, 2] [3, 4]]"),
            "f.txt:1:9: expected , or ] but found '['"
        );
        assert!(message("[[1, 2]").contains("ends"));
        assert!(message("[[1, 2]] x").contains("1:10"));
    }

    #[test]
    fn channel_counts_must_match_the_image() {
        let f = parse("1\n\n2\n").unwrap();
        assert!(f.check_channels(2).is_ok());
        assert_eq!(
            f.check_channels(1).unwrap_err().to_string(),
            "f.txt:3:1: the filter has 2 channels but the image has 1 (use --color for RGB, --grey for one channel, or a plane filter)"
        );
        let err = f.check_channels(3).unwrap_err().to_string();
        assert!(
            err.starts_with("f.txt:3:1: the filter has 2 channels but the image has 3"),
            "{err}"
        );
        assert!(parse("1 2\n").unwrap().check_channels(3).is_ok());
    }
}
