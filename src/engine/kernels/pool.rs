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
            // Eight windows at a time in fixed-size arrays, which the compiler turns into
            // vector shuffles and selects; then the rest one by one.
            let whole = ow - ow % 8;
            let groups = top.chunks_exact(16).zip(bottom.chunks_exact(16));
            for ((t, b), out) in groups.zip(out_row[..whole].chunks_exact_mut(8)) {
                let mut values = [0.0f32; 8];
                for (i, value) in values.iter_mut().enumerate() {
                    *value = pick(pick(pick(t[2 * i], t[2 * i + 1]), b[2 * i]), b[2 * i + 1]);
                }
                out.copy_from_slice(&values);
            }
            let windows = top[2 * whole..]
                .chunks_exact(2)
                .zip(bottom[2 * whole..].chunks_exact(2));
            for ((t, b), value) in windows.zip(out_row[whole..].iter_mut()) {
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
            // Every input position is written (the winner's gradient or zero), row pair by
            // row pair, without branching on the winner.
            let rows = plane.chunks_exact(2 * w).zip(dplane.chunks_exact_mut(2 * w));
            for ((rows, drows), grads) in rows.zip(gplane.chunks_exact(ow)) {
                let (top, bottom) = rows.split_at(w);
                let (dtop, dbottom) = drows.split_at_mut(w);
                for (ox, g) in grads.iter().enumerate() {
                    let window = [top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1]];
                    let at = winner(window);
                    let routed = |slot: usize| if at == slot { *g } else { 0.0 };
                    dtop[2 * ox] = routed(0);
                    dtop[2 * ox + 1] = routed(1);
                    dbottom[2 * ox] = routed(2);
                    dbottom[2 * ox + 1] = routed(3);
                }
            }
        }
    });
    dx
}
