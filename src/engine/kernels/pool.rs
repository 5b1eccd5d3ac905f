//! 2×2 max pooling with stride 2 on `f32` slices `[batch · channels, h, w]` (h and w even).
//!
//! The winner of each window is the first maximum in the order (0,0), (0,1), (1,0), (1,1); a
//! NaN wins over every number, so a diverging run's NaN reaches the loss. The backward pass
//! finds the same winner again from the input and routes the gradient to it alone.
//!
//! Windows go [`LANES`] at a time: their corners copied into four arrays, the winners found
//! by lane-wise compares and selects (vector instructions, no branch on the data), the results
//! copied out. Window by window, the winner was a branch on trained values, which the CPU
//! mispredicts about half the time: pooling took 15 ms of a ~90 ms VGG-11 ×0.25 step natively
//! (1.7–2.4 ns per input value on random data against 0.3–0.7 on the periodic values a
//! benchmark had used). On maps whose rows hold 1, 2, 4 or a multiple of 8 windows (every VGG
//! map) a group's corners lie at fixed offsets from its first, so they load as vector shuffles
//! instead of a walk window by window, and the gradient is written without clearing its buffer
//! first (both passes about halved, `examples/conv_layers`).

use super::conv::{in_parts, written_by};
use core::mem::MaybeUninit;

/// Windows whose winners are found together. Eight, not sixteen: the engine's own loops are
/// compiled for 128-bit vectors (SSE2 natively, SIMD128 in wasm), and sixteen windows' corners,
/// masks and routed gradients spilled out of their sixteen registers (the backward pass 2.2×
/// slower, `examples/conv_layers`).
const LANES: usize = 8;

/// Index (0..4) of the window's winner among `[top-left, top-right, bottom-left, bottom-right]`
/// (the rule's plain statement; the kernels find the same winners lane-wise).
#[cfg(test)]
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

/// The four corners `[top-left, top-right, bottom-left, bottom-right]` of [`LANES`] windows.
type Corners = [[f32; LANES]; 4];

/// Each lane's winning value and its corner (0..4), by [`winner`]'s rule: a later value wins
/// only if the best so far is not NaN and the value is greater or NaN. Non-short-circuit
/// operators and masks (all ones where a later value wins) in place of `if`, so the compiler
/// keeps it in vector registers: with `if`, the corner's index became a branch per lane on
/// trained values, mispredicted about half the time (the backward pass took twice the
/// forward's time plus a clear).
#[inline(always)]
fn winners(corners: &Corners) -> ([f32; LANES], [u32; LANES]) {
    let mut best = corners[0];
    let mut slot = [0u32; LANES];
    for (index, values) in (1u32..).zip(&corners[1..]) {
        for lane in 0..LANES {
            let (current, v) = (best[lane], values[lane]);
            let take = !current.is_nan() & ((v > current) | v.is_nan());
            let mask = u32::from(take).wrapping_neg();
            best[lane] = f32::from_bits((current.to_bits() & !mask) | (v.to_bits() & mask));
            slot[lane] = (slot[lane] & !mask) | (index & mask);
        }
    }
    (best, slot)
}

/// `value` where `slot == corner`, +0 elsewhere (a mask, not a branch: see [`winners`]).
#[inline(always)]
fn routed(value: f32, slot: u32, corner: u32) -> f32 {
    f32::from_bits(value.to_bits() & u32::from(slot == corner).wrapping_neg())
}

/// Walks the windows of `[planes, h, w]` planes in output order, giving each window's
/// top-left input position: a window's corners are `at`, `at + 1`, `at + w`, `at + w + 1`.
struct Windows {
    w: usize,
    ow: usize,
    /// The next window's row pair (over all planes: row pair `r` starts at `r · 2w`) and column.
    pair: usize,
    ox: usize,
}

impl Windows {
    /// From window `index` (output order) of a part's windows.
    fn starting_at(index: usize, w: usize) -> Self {
        let ow = w / 2;
        Self {
            w,
            ow,
            pair: index / ow,
            ox: index % ow,
        }
    }

    /// The next `count` (≤ [`LANES`]) windows' corners from `x`, lanes past `count` zero.
    #[inline(always)]
    fn corners(&mut self, x: &[f32], count: usize, tops: &mut [usize; LANES]) -> Corners {
        let mut corners = [[0.0f32; LANES]; 4];
        for (lane, top) in tops.iter_mut().enumerate().take(count) {
            let at = self.pair * 2 * self.w + 2 * self.ox;
            *top = at;
            corners[0][lane] = x[at];
            corners[1][lane] = x[at + 1];
            corners[2][lane] = x[at + self.w];
            corners[3][lane] = x[at + self.w + 1];
            self.ox += 1;
            if self.ox == self.ow {
                self.ox = 0;
                self.pair += 1;
            }
        }
        corners
    }
}

/// Windows a row of [`LANES`] consecutive windows (in output order) takes on maps `ow`
/// windows wide, as [`group_corners`]' const parameter: `ow` itself when it divides the lanes,
/// [`LANES`] when `ow` is a multiple of them, 0 when neither (windows walked one by one).
fn lane_pattern(ow: usize) -> usize {
    match ow {
        1 | 2 | 4 => ow,
        _ if ow.is_multiple_of(LANES) => LANES,
        _ => 0,
    }
}

// The patterns above (1, 2, 4 and the lanes) are every power of two up to the lanes.
const _: () = assert!(LANES == 8);

/// The top-left corner, in a part's `[planes, h, w]` input, of window `index` (output order).
fn window_top_left(index: usize, w: usize) -> usize {
    let ow = w / 2;
    (index / ow) * 2 * w + 2 * (index % ow)
}

/// The corners of the [`LANES`] windows whose first top-left corner is `input[at]`, on maps
/// `w` wide whose rows hold `K` windows (`K` dividing the lanes: the group spans `LANES / K`
/// row pairs) or more (`K = LANES`, a multiple of them: the group lies in one row pair). Each
/// row pair's part is two runs of `2K` floats, split into even and odd columns with constant
/// indices, which the compiler turns into vector shuffles.
#[inline(always)]
fn group_corners<const K: usize>(input: &[f32], at: usize, w: usize) -> Corners {
    let mut corners = [[0.0f32; LANES]; 4];
    for segment in 0..LANES / K {
        let base = at + segment * 2 * w;
        let top = &input[base..][..2 * K];
        let bottom = &input[base + w..][..2 * K];
        for i in 0..K {
            let lane = segment * K + i;
            corners[0][lane] = top[2 * i];
            corners[1][lane] = top[2 * i + 1];
            corners[2][lane] = bottom[2 * i];
            corners[3][lane] = bottom[2 * i + 1];
        }
    }
    corners
}

/// [`forward`]'s part in groups of [`LANES`] windows, rows of `K` windows ([`group_corners`]);
/// returns how many windows it did (the rest are walked one by one).
#[inline(always)]
fn forward_groups<const K: usize>(input: &[f32], block: &mut [MaybeUninit<f32>], w: usize) -> usize {
    let done = block.len() - block.len() % LANES;
    for (g, group) in block[..done].chunks_exact_mut(LANES).enumerate() {
        let corners = group_corners::<K>(input, window_top_left(g * LANES, w), w);
        group.write_copy_of_slice(&winners(&corners).0);
    }
    done
}

/// `x: [planes, h, w]` → `[planes, h/2, w/2]`. Every output is written (a window each), so the
/// buffer is not cleared first.
pub fn forward(x: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
    assert!(h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == planes * h * w);
    let (oh, ow) = (h / 2, w / 2);
    let fill = |out: &mut [MaybeUninit<f32>]| {
        in_parts(out, planes, oh * ow, |mine, block| {
            let input = &x[mine.start * h * w..mine.end * h * w];
            let done = match lane_pattern(ow) {
                1 => forward_groups::<1>(input, block, w),
                2 => forward_groups::<2>(input, block, w),
                4 => forward_groups::<4>(input, block, w),
                LANES => forward_groups::<LANES>(input, block, w),
                _ => 0,
            };
            let mut windows = Windows::starting_at(done, w);
            let mut tops = [0usize; LANES];
            for group in block[done..].chunks_mut(LANES) {
                let corners = windows.corners(input, group.len(), &mut tops);
                let (best, _) = winners(&corners);
                group.write_copy_of_slice(&best[..group.len()]);
            }
        })
    };
    // Safety: the parts write every output (above).
    unsafe { written_by(planes * oh * ow, fill) }
}

/// [`backward`]'s part in groups of [`LANES`] windows, rows of `K` windows ([`group_corners`]),
/// every corner written (the winner's gradient or zero); returns how many windows it did.
#[inline(always)]
fn backward_groups<const K: usize>(
    input: &[f32],
    grads: &[f32],
    block: &mut [MaybeUninit<f32>],
    w: usize,
) -> usize {
    let done = grads.len() - grads.len() % LANES;
    for (g, group) in grads[..done].chunks_exact(LANES).enumerate() {
        let at = window_top_left(g * LANES, w);
        let corners = group_corners::<K>(input, at, w);
        let [top_left, top_right, bottom_left, bottom_right] = &by_corner(&corners, group);
        for segment in 0..LANES / K {
            let base = at + segment * 2 * w;
            interleave::<K>(
                &mut block[base..][..2 * K],
                &top_left[segment * K..],
                &top_right[segment * K..],
            );
            interleave::<K>(
                &mut block[base + w..][..2 * K],
                &bottom_left[segment * K..],
                &bottom_right[segment * K..],
            );
        }
    }
    done
}

/// `[corner][lane]`: each lane's gradient (`grads`, [`LANES`] of them) where the lane's winner
/// is that corner, +0 elsewhere.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn by_corner(corners: &Corners, grads: &[f32]) -> Corners {
    let (_, slot) = winners(corners);
    let mut routes = [[0.0f32; LANES]; 4];
    for (corner, values) in (0u32..).zip(routes.iter_mut()) {
        for lane in 0..LANES {
            values[lane] = routed(grads[lane], slot[lane], corner);
        }
    }
    routes
}

/// [`by_corner`] in SIMD128, four lanes a vector: [`winners`]' rule as compares and selects on
/// 32-bit masks. From the lane-wise code, LLVM's wasm backend packed the eight lanes' masks
/// into 16-bit lanes and took them apart lane by lane (262 lane extractions and insertions in
/// the backward pass), which made the page's pooling backward 2.8× the native one's time
/// (`bench/wasm-kernels.sh`). The same bits: each select takes one of its inputs' bits whole;
/// `lanes_equal_the_plain_rule` checks this path in wasm (`scripts/test-wasm-kernels.sh`), and the
/// page-vs-CLI e2e test through every VGG pooling.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn by_corner(corners: &Corners, grads: &[f32]) -> Corners {
    use core::arch::wasm32::*;
    let grads = &grads[..LANES];
    let mut routes = [[0.0f32; LANES]; 4];
    for half in [0, LANES / 2] {
        // Safety (loads, stores): each names four floats inside its array or slice.
        let load = |values: &[f32]| unsafe { v128_load(values[half..half + 4].as_ptr().cast()) };
        let mut best = load(&corners[0]);
        let mut slot = i32x4_splat(0);
        for (index, values) in (1..).zip(&corners[1..]) {
            let v = load(values);
            // A later value wins where the best so far is not NaN and it is greater or NaN.
            let take = v128_andnot(v128_or(f32x4_gt(v, best), f32x4_ne(v, v)), f32x4_ne(best, best));
            best = v128_bitselect(v, best, take);
            slot = v128_bitselect(i32x4_splat(index), slot, take);
        }
        let grad = load(grads);
        for (corner, route) in (0..).zip(routes.iter_mut()) {
            let mine = v128_and(grad, i32x4_eq(slot, i32x4_splat(corner)));
            unsafe { v128_store(route[half..half + 4].as_mut_ptr().cast(), mine) };
        }
    }
    routes
}

/// `line[2i] = even[i]`, `line[2i + 1] = odd[i]` for `i < K`.
#[inline(always)]
fn interleave<const K: usize>(line: &mut [MaybeUninit<f32>], even: &[f32], odd: &[f32]) {
    let (line, even, odd) = (&mut line[..2 * K], &even[..K], &odd[..K]);
    for i in 0..K {
        line[2 * i].write(even[i]);
        line[2 * i + 1].write(odd[i]);
    }
}

/// The input gradient `[planes, h, w]`: each output's gradient at its window's winner, zero
/// elsewhere. Every position is written (the windows tile the map), so the buffer is not
/// cleared first: that clear was a third of the pass.
pub fn backward(x: &[f32], grad: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
    assert!(h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == planes * h * w);
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(grad.len(), planes * oh * ow);
    let fill = |dx: &mut [MaybeUninit<f32>]| {
        in_parts(dx, planes, h * w, |mine, block| {
            let input = &x[mine.start * h * w..mine.end * h * w];
            let grads = &grad[mine.start * oh * ow..mine.end * oh * ow];
            let done = match lane_pattern(ow) {
                1 => backward_groups::<1>(input, grads, block, w),
                2 => backward_groups::<2>(input, grads, block, w),
                4 => backward_groups::<4>(input, grads, block, w),
                LANES => backward_groups::<LANES>(input, grads, block, w),
                _ => 0,
            };
            let mut windows = Windows::starting_at(done, w);
            let mut tops = [0usize; LANES];
            for group in grads[done..].chunks(LANES) {
                let corners = windows.corners(input, group.len(), &mut tops);
                let (_, slot) = winners(&corners);
                for (lane, &at) in tops.iter().enumerate().take(group.len()) {
                    for (corner, shift) in (0u32..).zip([0, 1, w, w + 1]) {
                        block[at + shift].write(routed(group[lane], slot[lane], corner));
                    }
                }
            }
        })
    };
    // Safety: the parts write every position (above).
    unsafe { written_by(x.len(), fill) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values whose windows hold ties (+0 and −0 among them), NaNs and infinities.
    fn awkward(len: usize) -> Vec<f32> {
        const SPECIAL: [f32; 8] = [
            0.0,
            -0.0,
            1.0,
            1.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -2.5,
        ];
        let mut state = 0x2545F4914F6CDD1Du64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state.is_multiple_of(3) {
                    SPECIAL[(state >> 8) as usize % SPECIAL.len()]
                } else {
                    (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                }
            })
            .collect()
    }

    /// Forward and backward, lane by lane, equal the plain rule window by window (bits of the
    /// winning value, the gradient at the winner alone), on maps from 2×2 to 64×64 whose window
    /// counts are and are not multiples of the lanes, in each lane pattern (rows of 1, 2, 4, 8
    /// and 16k windows, and others), on one thread and split over the threads.
    #[test]
    fn lanes_equal_the_plain_rule() {
        for (planes, h, w) in [
            (1, 2, 2),
            (3, 4, 4),
            (5, 2, 6),
            (2, 34, 6),
            (7, 8, 8),
            (2, 32, 32),
            (33, 2, 2),
            (9, 4, 4),
            (5, 8, 8),
            (3, 16, 16),
            (3, 64, 64),
            (70, 32, 32),
            (129, 4, 4),
        ] {
            let x = awkward(planes * h * w);
            let grad: Vec<f32> = (0..planes * h * w / 4).map(|i| i as f32 + 1.0).collect();
            // The gradient is written into memory that is not cleared: hand it memory just
            // freed full of NaN, so a position left unwritten shows.
            drop(vec![f32::NAN; x.len()]);
            let (out, dx) = (forward(&x, planes, h, w), backward(&x, &grad, planes, h, w));
            let (oh, ow) = (h / 2, w / 2);
            for p in 0..planes {
                for (oy, ox) in (0..oh).flat_map(|oy| (0..ow).map(move |ox| (oy, ox))) {
                    let at = [0, 1, w, w + 1].map(|d| p * h * w + 2 * oy * w + 2 * ox + d);
                    let won = winner(at.map(|i| x[i]));
                    let o = (p * oh + oy) * ow + ox;
                    assert_eq!(
                        out[o].to_bits(),
                        x[at[won]].to_bits(),
                        "{planes}×{h}×{w}: output {o}"
                    );
                    for (corner, &i) in at.iter().enumerate() {
                        let expected = if corner == won { grad[o] } else { 0.0 };
                        assert_eq!(dx[i].to_bits(), expected.to_bits(), "{planes}×{h}×{w}: input {i}");
                    }
                }
            }
        }
    }
}
