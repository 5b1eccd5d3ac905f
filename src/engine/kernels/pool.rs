//! 2×2 max pooling with stride 2 on `f32` slices `[batch · channels, h, w]` (h and w even).
//!
//! The winner of each window is the first maximum in the order (0,0), (0,1), (1,0), (1,1); a
//! NaN wins over every number, so a diverging run's NaN reaches the loss. The backward pass
//! finds the same winner again from the input and routes the gradient to it alone.

use super::conv::in_parts;

/// Index (0..4) of the window's winner among `[top-left, top-right, bottom-left, bottom-right]`.
#[inline]
fn winner(window: [f32; 4]) -> usize {
    let mut best = 0;
    for (i, v) in window.iter().enumerate().skip(1) {
        let current = window[best];
        if !current.is_nan() && (*v > current || v.is_nan()) {
            best = i;
        }
    }
    best
}

/// The running winner `best` against the next value `v`, by [`winner`]'s rule (a NaN stays,
/// a later value wins only if greater or NaN): folding a window with it gives
/// `window[winner(window)]`, as selects the compiler need not branch on.
#[inline(always)]
fn pick(best: f32, v: f32) -> f32 {
    if !best.is_nan() && (v > best || v.is_nan()) {
        v
    } else {
        best
    }
}

/// `x: [planes, h, w]` → `[planes, h/2, w/2]`.
pub fn forward(x: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
    assert!(h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == planes * h * w);
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0.0f32; planes * oh * ow];
    in_parts(&mut out, planes, oh * ow, |mine, block| {
        let input = &x[mine.start * h * w..mine.end * h * w];
        let rows = input.chunks_exact(2 * w);
        for (rows, out_row) in rows.zip(block.chunks_exact_mut(ow)) {
            let (top, bottom) = rows.split_at(w);
            let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for ((t, b), value) in windows.zip(out_row.iter_mut()) {
                *value = pick(pick(pick(t[0], t[1]), b[0]), b[1]);
            }
        }
    });
    out
}

/// The input gradient `[planes, h, w]`: each output's gradient at its window's winner, zero
/// elsewhere.
pub fn backward(x: &[f32], grad: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
    assert!(h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == planes * h * w);
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(grad.len(), planes * oh * ow);
    let mut dx = vec![0.0f32; x.len()];
    in_parts(&mut dx, planes, h * w, |mine, block| {
        for (index, dplane) in mine.clone().zip(block.chunks_exact_mut(h * w)) {
            let plane = &x[index * h * w..][..h * w];
            let gplane = &grad[index * oh * ow..][..oh * ow];
            for oy in 0..oh {
                for ox in 0..ow {
                    let top = 2 * oy * w + 2 * ox;
                    let window = [plane[top], plane[top + 1], plane[top + w], plane[top + w + 1]];
                    let at = winner(window);
                    dplane[top + (at & 1) + (at >> 1) * w] = gplane[oy * ow + ox];
                }
            }
        }
    });
    dx
}
