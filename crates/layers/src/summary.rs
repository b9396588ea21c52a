//! The Keras-style model summary table.

use std::fmt;

/// One row of a summary: a layer's name, type, output shape (without the batch axis) and
/// parameter counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// The layer's name (`conv2d_1`).
    pub name: String,
    /// The layer's type as Keras names it (`Conv2D`).
    pub kind: String,
    /// The output shape of one sample (`[32, 26, 26]`); shown with `None` for the batch.
    pub output_shape: Vec<usize>,
    /// Trainable parameters.
    pub trainable: usize,
    /// Non-trainable parameters (e.g. batch-norm running statistics).
    pub non_trainable: usize,
}

/// A model summary: prints as Keras's `model.summary()` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The model's name.
    pub model_name: String,
    /// One row per layer, in order.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// All parameters.
    pub fn total_params(&self) -> usize {
        self.trainable_params() + self.non_trainable_params()
    }

    /// Trainable parameters.
    pub fn trainable_params(&self) -> usize {
        self.rows.iter().map(|r| r.trainable).sum()
    }

    /// Non-trainable parameters.
    pub fn non_trainable_params(&self) -> usize {
        self.rows.iter().map(|r| r.non_trainable).sum()
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `[32, 26, 26]` as `(None, 32, 26, 26)`.
fn shape_text(shape: &[usize]) -> String {
    let mut parts = vec!["None".to_string()];
    parts.extend(shape.iter().map(|d| d.to_string()));
    format!("({})", parts.join(", "))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cells: Vec<[String; 3]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    format!("{} ({})", r.name, r.kind),
                    shape_text(&r.output_shape),
                    thousands(r.trainable + r.non_trainable),
                ]
            })
            .collect();
        let width = |i: usize, header: &str, min: usize| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header.len()])
                .max()
                .unwrap_or(0)
                .max(min)
                + 2
        };
        let w = [
            width(0, "Layer (type)", 26),
            width(1, "Output Shape", 23),
            width(2, "Param #", 8),
        ];
        let line = |c: char| c.to_string().repeat(w.iter().sum::<usize>() + 1);
        writeln!(f, "Model: \"{}\"", self.model_name)?;
        writeln!(f, "{}", line('_'))?;
        writeln!(
            f,
            " {:<a$}{:<b$}{:<c$}",
            "Layer (type)",
            "Output Shape",
            "Param #",
            a = w[0],
            b = w[1],
            c = w[2]
        )?;
        writeln!(f, "{}", line('='))?;
        for (i, c) in cells.iter().enumerate() {
            writeln!(
                f,
                " {:<a$}{:<b$}{:<c$}",
                c[0],
                c[1],
                c[2],
                a = w[0],
                b = w[1],
                c = w[2]
            )?;
            if i + 1 < cells.len() {
                writeln!(f)?;
            }
        }
        writeln!(f, "{}", line('='))?;
        writeln!(f, "Total params: {}", thousands(self.total_params()))?;
        writeln!(
            f,
            "Trainable params: {}",
            thousands(self.trainable_params())
        )?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands(self.non_trainable_params())
        )?;
        write!(f, "{}", line('_'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(93322), "93,322");
        assert_eq!(thousands(138357544), "138,357,544");
    }

    #[test]
    fn table_has_keras_headers_and_totals() {
        let summary = Summary {
            model_name: "sequential".into(),
            rows: vec![
                SummaryRow {
                    name: "conv2d".into(),
                    kind: "Conv2D".into(),
                    output_shape: vec![32, 26, 26],
                    trainable: 320,
                    non_trainable: 0,
                },
                SummaryRow {
                    name: "batch_normalization".into(),
                    kind: "BatchNormalization".into(),
                    output_shape: vec![32, 26, 26],
                    trainable: 64,
                    non_trainable: 64,
                },
            ],
        };
        let text = summary.to_string();
        assert!(text.starts_with("Model: \"sequential\"\n"));
        assert!(text.contains(" Layer (type)"));
        assert!(text.contains("Output Shape"));
        assert!(text.contains("Param #"));
        assert!(text.contains(" conv2d (Conv2D)"));
        assert!(text.contains("(None, 32, 26, 26)"));
        assert!(text.contains("Total params: 448\n"));
        assert!(text.contains("Trainable params: 384\n"));
        assert!(text.contains("Non-trainable params: 64\n"));
        let lines: Vec<&str> = text.lines().collect();
        let row = lines
            .iter()
            .find(|l| l.contains("conv2d (Conv2D)"))
            .unwrap();
        let header = lines.iter().find(|l| l.contains("Layer (type)")).unwrap();
        assert_eq!(row.find("(None"), header.find("Output Shape"));
        assert_eq!(row.find("320"), header.find("Param #"));
    }
}
