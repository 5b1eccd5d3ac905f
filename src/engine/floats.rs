//! Floats in JSON, losslessly, non-finite ones included.
//!
//! A diverging run produces NaN and ±∞ losses, distances and errors. serde_json writes those as
//! `null` and cannot read them back, so a result holding one would neither reload nor import.
//! Fields marked `#[serde(with = "crate::engine::floats")]` write finite values as plain JSON
//! numbers (unchanged for every ordinary result) and non-finite ones as the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"` (JavaScript's spellings). Reading also accepts `null` as NaN, so
//! files written before this change open too.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A float, or a structure of floats, with a lossless JSON form.
pub trait Lossless: Sized {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// For `#[serde(with = "…")]`.
pub fn serialize<T: Lossless, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    value.write(s)
}

/// For `#[serde(with = "…")]`.
pub fn deserialize<'de, T: Lossless, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    T::read(d)
}

struct Out<'a, T>(&'a T);

impl<T: Lossless> Serialize for Out<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.write(s)
    }
}

struct In<T>(T);

impl<'de, T: Lossless> Deserialize<'de> for In<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::read(d).map(In)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Repr {
    Number(f64),
    Text(String),
    /// What serde_json wrote for a non-finite value before.
    Null(()),
}

fn name(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

fn parse<E: serde::de::Error>(repr: Repr) -> Result<f64, E> {
    match repr {
        Repr::Number(v) => Ok(v),
        Repr::Null(()) => Ok(f64::NAN),
        Repr::Text(t) => match t.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(E::custom(format!(
                "'{}' is not a number",
                t.chars().take(20).collect::<String>()
            ))),
        },
    }
}

impl Lossless for f64 {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_finite() {
            s.serialize_f64(*self)
        } else {
            s.serialize_str(name(*self))
        }
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse(Repr::deserialize(d)?)
    }
}

impl Lossless for f32 {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_finite() {
            s.serialize_f32(*self)
        } else {
            s.serialize_str(name(*self as f64))
        }
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = parse::<D::Error>(Repr::deserialize(d)?)?;
        if v.is_finite() && v.abs() > f32::MAX as f64 {
            return Err(D::Error::custom(format!("{v} is out of range")));
        }
        Ok(v as f32)
    }
}

impl<T: Lossless> Lossless for Vec<T> {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Out))
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<In<T>>::deserialize(d)?.into_iter().map(|v| v.0).collect())
    }
}

/// `null` is `None` (so an `Option<f64>` cannot hold a NaN written as `null` by old files).
impl<T: Lossless> Lossless for Option<T> {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(v) => s.serialize_some(&Out(v)),
            None => s.serialize_none(),
        }
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<In<T>>::deserialize(d)?.map(|v| v.0))
    }
}

impl<A: Lossless, B: Lossless> Lossless for (A, B) {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (Out(&self.0), Out(&self.1)).serialize(s)
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (a, b) = <(In<A>, In<B>)>::deserialize(d)?;
        Ok((a.0, b.0))
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug)]
    struct Sample {
        #[serde(with = "super")]
        a: f64,
        #[serde(with = "super")]
        b: f32,
        #[serde(with = "super")]
        grid: Vec<Vec<f32>>,
        #[serde(with = "super")]
        curve: Vec<(f64, f32)>,
    }

    fn bits(s: &Sample) -> Vec<u64> {
        let mut out = vec![s.a.to_bits(), s.b.to_bits() as u64];
        out.extend(s.grid.iter().flatten().map(|v| v.to_bits() as u64));
        out.extend(
            s.curve
                .iter()
                .flat_map(|&(x, y)| [x.to_bits(), y.to_bits() as u64]),
        );
        out
    }

    #[test]
    fn non_finite_values_round_trip_and_finite_ones_stay_numbers() {
        let s = Sample {
            a: f64::NAN,
            b: f32::NEG_INFINITY,
            grid: vec![vec![0.1, f32::INFINITY], vec![f32::NAN, -0.0]],
            curve: vec![(0.5, 2.3), (1.0, f32::NAN)],
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"a":"NaN","b":"-Infinity","grid":[[0.1,"Infinity"],["NaN",-0.0]],"curve":[[0.5,2.3],[1.0,"NaN"]]}"#
        );
        let back: Sample = serde_json::from_str(&text).unwrap();
        // NaN's payload is not kept, its class is: compare NaN-ness, then every other bit.
        assert!(back.a.is_nan() && back.grid[1][0].is_nan() && back.curve[1].1.is_nan());
        let nan_free = |v: Vec<u64>| -> Vec<u64> {
            v.into_iter()
                .filter(|&b| !(f64::from_bits(b).is_nan() || f32::from_bits(b as u32).is_nan()))
                .collect()
        };
        assert_eq!(nan_free(bits(&back)), nan_free(bits(&s)));
    }

    #[test]
    fn old_nulls_read_as_nan_and_garbage_is_refused() {
        let old = r#"{"a":null,"b":1.5,"grid":[[null]],"curve":[]}"#;
        let s: Sample = serde_json::from_str(old).unwrap();
        assert!(s.a.is_nan() && s.grid[0][0].is_nan());
        assert!(serde_json::from_str::<Sample>(r#"{"a":"lots","b":1,"grid":[],"curve":[]}"#).is_err());
        assert!(serde_json::from_str::<Sample>(r#"{"a":1,"b":1e300,"grid":[],"curve":[]}"#).is_err());
    }
}
