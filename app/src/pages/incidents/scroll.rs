//! The list's geometry: rows of a fixed height in a viewport of a fixed height, and how a
//! scroll position maps to rows when the list is taller than a browser lays out.

pub const ROW_HEIGHT: f64 = 32.0;
pub const VIEWPORT_ROWS: i64 = 18;
pub const VIEWPORT_PX: f64 = VIEWPORT_ROWS as f64 * ROW_HEIGHT;
/// Rows rendered past each edge of the viewport. One keeps the table under 150 DOM nodes.
pub const OVERSCAN: i64 = 1;
/// Tallest spacer we let the browser lay out; beyond it scrolling is proportional.
pub const MAX_SPACER_PX: f64 = 8_000_000.0;

/// How the list's scrollTop maps to rows of a list of `total` rows. Browsers cap an element's
/// height, so the spacer stops at [`MAX_SPACER_PX`]; past that, a pixel of scrolling stands for
/// more than a pixel of rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrollMap {
    pub total: i64,
}

impl ScrollMap {
    fn full_px(self) -> f64 {
        self.total as f64 * ROW_HEIGHT
    }

    pub fn spacer_px(self) -> f64 {
        self.full_px().clamp(VIEWPORT_PX, MAX_SPACER_PX)
    }

    /// The position in the full (unscaled) list that `scroll_top` shows at the top.
    pub fn virtual_px(self, scroll_top: f64) -> f64 {
        let range = self.spacer_px() - VIEWPORT_PX;
        let full_range = (self.full_px() - VIEWPORT_PX).max(0.0);
        if range <= 0.0 {
            0.0
        } else {
            (scroll_top.clamp(0.0, range) / range) * full_range
        }
    }

    /// The scrollTop that puts `row` at the top (or as near as the end allows).
    pub fn scroll_top_for(self, row: i64) -> f64 {
        let range = self.spacer_px() - VIEWPORT_PX;
        let full_range = (self.full_px() - VIEWPORT_PX).max(0.0);
        if full_range <= 0.0 {
            0.0
        } else {
            (row as f64 * ROW_HEIGHT).min(full_range) / full_range * range
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_lists_scroll_pixel_for_pixel() {
        let map = ScrollMap { total: 1_000 };
        assert_eq!(map.spacer_px(), 32_000.0);
        assert_eq!(map.virtual_px(3_200.0), 3_200.0);
        assert_eq!(map.scroll_top_for(100), 3_200.0);
    }

    #[test]
    fn every_row_of_ten_million_is_reachable() {
        let map = ScrollMap { total: 10_000_000 };
        assert!(
            map.spacer_px() <= MAX_SPACER_PX,
            "the browser can lay out the spacer"
        );
        let bottom = map.spacer_px() - VIEWPORT_PX;
        let last_top_row = (map.virtual_px(bottom) / ROW_HEIGHT).floor() as i64;
        assert_eq!(
            last_top_row + VIEWPORT_ROWS,
            10_000_000,
            "the last row shows at the bottom"
        );
        // Row 1,048,577 (past the 33.5M px cap at 32 px a row) has a scroll position.
        let top = map.scroll_top_for(1_048_577);
        assert_eq!((map.virtual_px(top) / ROW_HEIGHT).round() as i64, 1_048_577);
        assert_eq!(map.virtual_px(0.0), 0.0);
    }

    #[test]
    fn fewer_rows_than_fit_never_scroll() {
        let map = ScrollMap { total: 3 };
        assert_eq!(map.virtual_px(500.0), 0.0);
        assert_eq!(map.scroll_top_for(2), 0.0);
    }
}
