//! The link's byte layer: a [`Writer`] and a [`Reader`] for varints, floats, strings and
//! fractions, and the [`Wire`] trait that each part of a result implements once, both ways, so
//! the writer and the reader of a field cannot drift apart.
//!
//! The reader treats its bytes as hostile: every count is bounded by a cap and by what is left,
//! and any shortfall is an error, never a panic.

use super::LinkError;

pub type Read<T> = Result<T, LinkError>;

pub fn corrupt(what: &str) -> LinkError {
    LinkError::Corrupt(what.to_string())
}

/// What a part's encoding depends on, known from the record's header: errors travel as counts
/// of the test set (or of a class), joint sets as unit indices, grids without their sizes.
pub struct Frame<'a> {
    pub version: u8,
    /// Test examples: the denominator of every test error.
    pub test_examples: usize,
    pub units: &'a [String],
    pub checkpoints: usize,
    /// Test examples per class: the denominators of per-class errors.
    pub class_counts: &'a [usize],
    pub classes: usize,
    /// α values of the interpolation (the config's).
    pub alphas: usize,
}

/// A part of a result that travels in a link.
pub trait Wire: Sized {
    fn write(&self, w: &mut Writer, frame: &Frame);
    fn read(r: &mut Reader, frame: &Frame) -> Read<Self>;
}

pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    pub fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    pub fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn string(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    /// A list of texts: its length, then each.
    pub fn strings(&mut self, items: &[String]) {
        self.varint(items.len() as u64);
        for s in items {
            self.string(s);
        }
    }
    /// A list of whole numbers: its length, then each.
    pub fn varints(&mut self, items: &[usize]) {
        self.varint(items.len() as u64);
        for &v in items {
            self.varint(v as u64);
        }
    }
    /// A fraction of `denominator`: its count when exact, else the raw value.
    pub fn fraction(&mut self, value: f64, denominator: usize) {
        if denominator > 0 && value.is_finite() && value >= 0.0 {
            let count = (value * denominator as f64).round();
            if count <= u32::MAX as f64 && count / denominator as f64 == value {
                self.varint(2 * count as u64);
                return;
            }
        }
        self.varint(1);
        self.f64(value);
    }
    pub fn fractions(&mut self, values: &[f64], denominator: usize) {
        for &v in values {
            self.fraction(v, denominator);
        }
    }
    /// One value per class, each a fraction of that class's count.
    pub fn per_class(&mut self, values: &[f64], counts: &[usize]) {
        for (i, &v) in values.iter().enumerate() {
            self.fraction(v, counts.get(i).copied().unwrap_or(0));
        }
    }
    pub fn f32s(&mut self, values: &[f32]) {
        for &v in values {
            self.f32(v);
        }
    }
    /// A list: its length, then each item.
    pub fn list<T: Wire>(&mut self, items: &[T], frame: &Frame) {
        self.varint(items.len() as u64);
        for item in items {
            item.write(self, frame);
        }
    }
    /// A flag byte, then the value when there is one.
    pub fn option<T>(&mut self, value: Option<&T>, write: impl FnOnce(&mut Self, &T)) {
        match value {
            Some(v) => {
                self.byte(1);
                write(self, v);
            }
            None => self.byte(0),
        }
    }
}

pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }
    pub fn left(&self) -> usize {
        self.bytes.len() - self.at
    }
    pub fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        if n > self.left() {
            return Err(corrupt("it ends too early"));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }
    pub fn byte(&mut self) -> Read<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn varint(&mut self) -> Read<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("a number is too long"))
    }
    /// A count of items that each take at least one byte (so it cannot exceed what is left).
    pub fn count(&mut self, limit: usize) -> Read<usize> {
        let n = self.varint()?;
        if n > limit as u64 || n > self.left() as u64 {
            return Err(corrupt("a list is longer than possible"));
        }
        Ok(n as usize)
    }
    pub fn usize(&mut self) -> Read<usize> {
        let v = self.varint()?;
        usize::try_from(v).map_err(|_| corrupt("a number is out of range"))
    }
    pub fn f32(&mut self) -> Read<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    pub fn f64(&mut self) -> Read<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    pub fn string(&mut self) -> Read<String> {
        let n = self.count(1 << 16)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("text is not UTF-8"))
    }
    pub fn fraction(&mut self, denominator: usize) -> Read<f64> {
        let v = self.varint()?;
        if v == 1 {
            return self.f64();
        }
        if v & 1 == 1 || denominator == 0 {
            return Err(corrupt("a value has an unknown form"));
        }
        Ok((v / 2) as f64 / denominator as f64)
    }
    pub fn fractions(&mut self, n: usize, denominator: usize) -> Read<Vec<f64>> {
        if n > self.left() {
            return Err(corrupt("a list is longer than possible"));
        }
        (0..n).map(|_| self.fraction(denominator)).collect()
    }
    pub fn per_class(&mut self, counts: &[usize], classes: usize) -> Read<Vec<f64>> {
        (0..classes)
            .map(|i| self.fraction(counts.get(i).copied().unwrap_or(0)))
            .collect()
    }
    pub fn f32s(&mut self, n: usize) -> Read<Vec<f32>> {
        if n.saturating_mul(4) > self.left() {
            return Err(corrupt("it ends too early"));
        }
        (0..n).map(|_| self.f32()).collect()
    }
    /// `n` items read by `item` (each takes at least a byte, so `n` is bounded by what is left).
    pub fn repeat<T>(&mut self, n: usize, mut item: impl FnMut(&mut Self) -> Read<T>) -> Read<Vec<T>> {
        (0..n).map(|_| item(self)).collect()
    }
    /// A list written by [`Writer::list`], at most `limit` long.
    pub fn list<T: Wire>(&mut self, limit: usize, frame: &Frame) -> Read<Vec<T>> {
        let n = self.count(limit)?;
        self.repeat(n, |r| T::read(r, frame))
    }
    /// A value written by [`Writer::option`].
    pub fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Read<T>) -> Read<Option<T>> {
        match self.byte()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(corrupt("a flag has an unknown value")),
        }
    }
}

impl Frame<'_> {
    /// A set of units, as their indices.
    pub fn write_units(&self, w: &mut Writer, names: &[String]) {
        w.varint(names.len() as u64);
        for name in names {
            w.varint(self.units.iter().position(|u| u == name).unwrap_or(0) as u64);
        }
    }

    pub fn read_units(&self, r: &mut Reader, limit: usize) -> Read<Vec<String>> {
        let n = r.count(limit)?;
        r.repeat(n, |r| {
            let index = r.usize()?;
            self.units
                .get(index)
                .cloned()
                .ok_or_else(|| corrupt("a joint set names an unknown unit"))
        })
    }
}
