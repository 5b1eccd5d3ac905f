//! What the kernel timing examples share.

/// Values in [-0.5, 0.5) in no pattern (xorshift), so that a pooling window's winner or a ReLU's
/// zeros are as hard to predict as on trained values.
pub fn random_values(len: usize, salt: u64) -> Vec<f32> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}
