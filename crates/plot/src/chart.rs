//! Line charts of per-epoch values.

use std::path::Path;

use plotters::prelude::*;

use super::{register_bundled_font, save_rgb_png};
use crate::error::{PlotError, Result};
use strata_layers::train::History;

/// One named curve: a value per epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend label.
    pub label: String,
    /// One value per epoch (epoch 1 first).
    pub values: Vec<f64>,
}

/// A line chart of per-epoch values.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The title above the chart.
    pub title: String,
    /// The y axis's label.
    pub y_label: String,
    /// The curves.
    pub series: Vec<Series>,
}

impl Chart {
    /// The chart of training and validation loss of a history.
    pub fn loss(history: &History) -> Self {
        let mut series = vec![Series {
            label: "training loss".into(),
            values: history.loss(),
        }];
        let val = history.val_loss();
        if !val.is_empty() {
            series.push(Series {
                label: "validation loss".into(),
                values: val,
            });
        }
        Self {
            title: "Loss per epoch".into(),
            y_label: "loss".into(),
            series,
        }
    }

    /// The chart of training and validation accuracy of a history.
    pub fn accuracy(history: &History) -> Self {
        let mut series = vec![Series {
            label: "training accuracy".into(),
            values: history.accuracy(),
        }];
        let val = history.val_accuracy();
        if !val.is_empty() {
            series.push(Series {
                label: "validation accuracy".into(),
                values: val,
            });
        }
        Self {
            title: "Accuracy per epoch".into(),
            y_label: "accuracy".into(),
            series,
        }
    }

    /// Draws the chart into an RGB buffer of `width × height` pixels.
    pub fn render(&self, width: u32, height: u32) -> Result<Vec<u8>> {
        register_bundled_font();
        let epochs = self
            .series
            .iter()
            .map(|s| s.values.len())
            .max()
            .unwrap_or(0);
        let finite = || {
            self.series
                .iter()
                .flat_map(|s| s.values.iter().copied())
                .filter(|v| v.is_finite())
        };
        let (lo, hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if epochs == 0 || !lo.is_finite() {
            return Err(PlotError::invalid(
                "plot",
                format!("chart {:?} has no finite values to draw", self.title),
            ));
        }
        let margin = ((hi - lo) * 0.08).max(1e-3);
        let (y0, y1) = (
            (lo - margin).min(if lo >= 0.0 { 0.0 } else { lo - margin }),
            hi + margin,
        );
        let mut buffer = vec![255u8; (width * height * 3) as usize];
        {
            let draw_error = |e: &dyn std::fmt::Display| PlotError::invalid("plot", e.to_string());
            let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| draw_error(&e))?;
            let x_max = (epochs as f64 + 0.5).max(1.5);
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 24))
                .margin(16)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d(0.5f64..x_max, y0..y1)
                .map_err(|e| draw_error(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(self.y_label.as_str())
                .x_labels(epochs.min(12) + 1)
                .x_label_formatter(&|x| {
                    if (x.fract()).abs() < 1e-9 {
                        format!("{x:.0}")
                    } else {
                        String::new()
                    }
                })
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 16))
                .draw()
                .map_err(|e| draw_error(&e))?;
            let colours = [
                RGBColor(31, 119, 180),
                RGBColor(255, 127, 14),
                RGBColor(44, 160, 44),
                RGBColor(214, 39, 40),
            ];
            for (i, series) in self.series.iter().enumerate() {
                let colour = colours[i % colours.len()];
                let points: Vec<(f64, f64)> = series
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(e, &v)| (e as f64 + 1.0, v))
                    .collect();
                chart
                    .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                    .map_err(|e| draw_error(&e))?
                    .label(series.label.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 4, colour.filled())),
                    )
                    .map_err(|e| draw_error(&e))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| draw_error(&e))?;
            root.present().map_err(|e| draw_error(&e))?;
        }
        Ok(buffer)
    }

    /// Draws the chart and writes it as a PNG file, atomically.
    pub fn save_png(&self, path: &Path, width: u32, height: u32) -> Result<()> {
        save_rgb_png(path, &self.render(width, height)?, width, height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_curves_and_rejects_empty_charts() {
        let chart = Chart {
            title: "Loss per epoch".into(),
            y_label: "loss".into(),
            series: vec![
                Series {
                    label: "training loss".into(),
                    values: vec![1.0, 0.6, 0.4, 0.3],
                },
                Series {
                    label: "validation loss".into(),
                    values: vec![1.1, 0.7, 0.5, 0.45],
                },
            ],
        };
        let pixels = chart.render(320, 240).unwrap();
        // Both curve colours appear somewhere in the picture.
        let has = |rgb: [u8; 3]| pixels.chunks(3).any(|p| p == rgb);
        assert!(has([31, 119, 180]) && has([255, 127, 14]));
        let empty = Chart {
            series: vec![],
            ..chart
        };
        assert!(empty.render(320, 240).is_err());
    }
}
