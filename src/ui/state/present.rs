//! The presentation view's keys: ← → between the three maps, ↑ ↓ through the error map's rows.

use super::AppState;

/// Keys the presentation view answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresentKey {
    Left,
    Right,
    Up,
    Down,
}

/// Maps the view cycles through: test error, ℓ2, ℓ∞.
const MAPS: usize = 3;

impl AppState {
    pub(super) fn present_key(&mut self, key: PresentKey) {
        let (true, Some(result)) = (self.presenting, &self.result) else {
            return;
        };
        // Rows of the test-error map: the units, then fullmodel (no ReRnd column).
        let rows = result.units.len() + 1;
        let (row, column) = self.selected.unwrap_or((0, 1));
        match key {
            PresentKey::Left => self.present_view = (self.present_view + MAPS - 1) % MAPS,
            PresentKey::Right => self.present_view = (self.present_view + 1) % MAPS,
            PresentKey::Down if self.selected.is_some() => self.selected = Some(((row + 1) % rows, column)),
            PresentKey::Up if self.selected.is_some() => {
                self.selected = Some(((row + rows - 1) % rows, column))
            }
            PresentKey::Up | PresentKey::Down => self.selected = Some((0, 1)),
        }
        if matches!(key, PresentKey::Up | PresentKey::Down) {
            self.present_view = 0;
        }
    }
}
