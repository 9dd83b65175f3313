//! Serde types of the Open Inference Protocol's REST binding, shared by our client and our server.
//!
//! They follow the specification and tolerate what real peers send: unknown fields are ignored,
//! `null` stands for an absent `model_version`, `parameters` or list, and tensor `data` may be
//! flat or nested to any depth (it is always flattened in row-major order).

use std::fmt;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// Free-form `parameters` of a request, response, tensor or metadata object.
pub type Parameters = serde_json::Map<String, serde_json::Value>;

/// Deserializes `null` as the type's default, so `"parameters": null` reads like an absent field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// A tensor element type, spelled as on the wire (`"FP64"`, `"INT64"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)] // the variants are the protocol's names
pub enum Datatype {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    Fp16,
    Fp32,
    Fp64,
    Bytes,
}

impl Datatype {
    /// The wire name, e.g. `"FP64"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::Uint8 => "UINT8",
            Self::Uint16 => "UINT16",
            Self::Uint32 => "UINT32",
            Self::Uint64 => "UINT64",
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Fp16 => "FP16",
            Self::Fp32 => "FP32",
            Self::Fp64 => "FP64",
            Self::Bytes => "BYTES",
        }
    }

    /// The inclusive range of an integer type, `None` for other types.
    fn integer_range(self) -> Option<(i128, i128)> {
        let (min, max) = match self {
            Self::Uint8 => (0, u8::MAX.into()),
            Self::Uint16 => (0, u16::MAX.into()),
            Self::Uint32 => (0, u32::MAX.into()),
            Self::Uint64 => (0, u64::MAX.into()),
            Self::Int8 => (i8::MIN.into(), i8::MAX.into()),
            Self::Int16 => (i16::MIN.into(), i16::MAX.into()),
            Self::Int32 => (i32::MIN.into(), i32::MAX.into()),
            Self::Int64 => (i64::MIN.into(), i64::MAX.into()),
            _ => return None,
        };
        Some((min, max))
    }
}

impl fmt::Display for Datatype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The elements of a tensor, flattened in row-major order.
///
/// JSON does not say which element type a number is, so numbers are kept in the narrowest of
/// `Int`, `UInt` and `Float` that holds them all; [`Tensor::to_f64`] and [`Tensor::to_i64`] check
/// them against the tensor's declared [`Datatype`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Booleans (`BOOL`).
    Bool(Vec<bool>),
    /// Integers that all fit `i64` (an empty array is `Int` too).
    Int(Vec<i64>),
    /// Non-negative integers, at least one above `i64::MAX`.
    UInt(Vec<u64>),
    /// Numbers, at least one written with a fraction or exponent.
    Float(Vec<f64>),
    /// Strings (`BYTES`).
    Str(Vec<String>),
}

impl TensorData {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::Bool(v) => v.len(),
            Self::Int(v) => v.len(),
            Self::UInt(v) => v.len(),
            Self::Float(v) => v.len(),
            Self::Str(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What kind of JSON values these are, for error messages.
    fn kind(&self) -> &'static str {
        match self {
            Self::Bool(_) => "booleans",
            Self::Int(_) | Self::UInt(_) => "integers",
            Self::Float(_) => "non-integer numbers",
            Self::Str(_) => "strings",
        }
    }
}

impl Serialize for TensorData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Bool(v) => v.serialize(serializer),
            Self::Int(v) => v.serialize(serializer),
            Self::UInt(v) => v.serialize(serializer),
            Self::Float(v) => v.serialize(serializer),
            Self::Str(v) => v.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for TensorData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut builder = Builder::Empty;
        deserializer.deserialize_any(Flatten(&mut builder))?;
        Ok(builder.finish())
    }
}

/// Accumulates flattened elements, widening `Int` to `UInt` or `Float` as values demand.
enum Builder {
    Empty,
    Data(TensorData),
}

impl Builder {
    fn finish(self) -> TensorData {
        match self {
            Self::Empty => TensorData::Int(Vec::new()),
            Self::Data(data) => data,
        }
    }

    fn mixed<E: serde::de::Error>(data: &TensorData, new: &str) -> E {
        E::custom(format!("tensor data mixes {} and {new}", data.kind()))
    }

    fn push_i64<E: serde::de::Error>(&mut self, value: i64) -> Result<(), E> {
        match self {
            Self::Empty => *self = Self::Data(TensorData::Int(vec![value])),
            Self::Data(TensorData::Int(v)) => v.push(value),
            Self::Data(TensorData::UInt(v)) => match u64::try_from(value) {
                Ok(unsigned) => v.push(unsigned),
                Err(_) => return self.push_f64(value as f64),
            },
            Self::Data(TensorData::Float(v)) => v.push(value as f64),
            Self::Data(other) => return Err(Self::mixed(other, "numbers")),
        }
        Ok(())
    }

    fn push_u64<E: serde::de::Error>(&mut self, value: u64) -> Result<(), E> {
        if let Ok(signed) = i64::try_from(value) {
            return self.push_i64(signed);
        }
        match self {
            Self::Empty => *self = Self::Data(TensorData::UInt(vec![value])),
            Self::Data(TensorData::Int(v)) => {
                match v.iter().map(|&x| u64::try_from(x)).collect::<Result<Vec<_>, _>>() {
                    Ok(mut unsigned) => {
                        unsigned.push(value);
                        *self = Self::Data(TensorData::UInt(unsigned));
                    }
                    Err(_) => return self.push_f64(value as f64),
                }
            }
            Self::Data(TensorData::UInt(v)) => v.push(value),
            Self::Data(TensorData::Float(v)) => v.push(value as f64),
            Self::Data(other) => return Err(Self::mixed(other, "numbers")),
        }
        Ok(())
    }

    fn push_f64<E: serde::de::Error>(&mut self, value: f64) -> Result<(), E> {
        let floats = match self {
            Self::Empty => vec![value],
            Self::Data(TensorData::Float(v)) => {
                v.push(value);
                return Ok(());
            }
            Self::Data(TensorData::Int(v)) => v.iter().map(|&x| x as f64).chain([value]).collect(),
            Self::Data(TensorData::UInt(v)) => v.iter().map(|&x| x as f64).chain([value]).collect(),
            Self::Data(other) => return Err(Self::mixed(other, "numbers")),
        };
        *self = Self::Data(TensorData::Float(floats));
        Ok(())
    }

    fn push_bool<E: serde::de::Error>(&mut self, value: bool) -> Result<(), E> {
        match self {
            Self::Empty => *self = Self::Data(TensorData::Bool(vec![value])),
            Self::Data(TensorData::Bool(v)) => v.push(value),
            Self::Data(other) => return Err(Self::mixed(other, "booleans")),
        }
        Ok(())
    }

    fn push_str<E: serde::de::Error>(&mut self, value: String) -> Result<(), E> {
        match self {
            Self::Empty => *self = Self::Data(TensorData::Str(vec![value])),
            Self::Data(TensorData::Str(v)) => v.push(value),
            Self::Data(other) => return Err(Self::mixed(other, "strings")),
        }
        Ok(())
    }
}

/// Visits a JSON value of any nesting depth, pushing its scalars into a [`Builder`].
struct Flatten<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tensor data: an array (possibly nested) of numbers, booleans or strings")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.0.push_bool(v)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.0.push_i64(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.0.push_u64(v)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.0.push_f64(v)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push_str(v.to_owned())
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<(), E> {
        self.0.push_str(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Flatten(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// A named tensor: a request input or a response output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    /// Tensor name.
    pub name: String,
    /// Dimensions (the product is the element count).
    pub shape: Vec<i64>,
    /// Element type.
    pub datatype: Datatype,
    /// Tensor parameters (e.g. `content_type`, `binary_data_size`).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Parameters::is_empty")]
    pub parameters: Parameters,
    /// Elements, flattened in row-major order.
    pub data: TensorData,
}

impl Tensor {
    /// An `FP64` tensor.
    pub fn fp64(name: impl Into<String>, shape: Vec<i64>, data: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            shape,
            datatype: Datatype::Fp64,
            parameters: Parameters::new(),
            data: TensorData::Float(data),
        }
    }

    /// An `INT64` tensor.
    pub fn int64(name: impl Into<String>, shape: Vec<i64>, data: Vec<i64>) -> Self {
        Self {
            name: name.into(),
            shape,
            datatype: Datatype::Int64,
            parameters: Parameters::new(),
            data: TensorData::Int(data),
        }
    }

    fn invalid(&self, reason: String) -> Error {
        Error::Tensor { name: self.name.clone(), reason }
    }

    /// The element count the shape implies; an error for a negative or overflowing shape.
    pub fn element_count(&self) -> Result<usize> {
        self.shape.iter().try_fold(1usize, |count, &dim| {
            let dim = usize::try_from(dim)
                .map_err(|_| self.invalid(format!("shape {:?} has a negative dimension", self.shape)))?;
            count.checked_mul(dim).ok_or_else(|| self.invalid(format!("shape {:?} is too large", self.shape)))
        })
    }

    /// Checks that the data holds exactly as many elements as the shape says.
    fn check_count(&self) -> Result<()> {
        let expected = self.element_count()?;
        let actual = self.data.len();
        if actual == expected {
            Ok(())
        } else {
            Err(self
                .invalid(format!("shape {:?} needs {expected} elements, but data has {actual}", self.shape)))
        }
    }

    fn wrong_data(&self) -> Error {
        self.invalid(format!("datatype {} does not match data of {}", self.datatype, self.data.kind()))
    }

    /// Checks that every integer fits the declared integer datatype.
    fn check_integer_range(&self, values: impl Iterator<Item = i128>) -> Result<()> {
        let Some((min, max)) = self.datatype.integer_range() else {
            return Err(self.wrong_data());
        };
        match values.into_iter().find(|v| !(min..=max).contains(v)) {
            Some(v) => Err(self.invalid(format!("value {v} is out of range for {}", self.datatype))),
            None => Ok(()),
        }
    }

    /// The elements as `f64`, checked against the shape and the declared numeric datatype
    /// (`FP32` values are rounded to `f32` first, as the sender meant them).
    pub fn to_f64(&self) -> Result<Vec<f64>> {
        self.check_count()?;
        match (&self.data, self.datatype) {
            (TensorData::Float(v), Datatype::Fp64 | Datatype::Fp16) => Ok(v.clone()),
            (TensorData::Float(v), Datatype::Fp32) => Ok(v.iter().map(|&x| f64::from(x as f32)).collect()),
            (TensorData::Int(v), Datatype::Fp16 | Datatype::Fp32 | Datatype::Fp64) => {
                Ok(v.iter().map(|&x| x as f64).collect())
            }
            (TensorData::UInt(v), Datatype::Fp16 | Datatype::Fp32 | Datatype::Fp64) => {
                Ok(v.iter().map(|&x| x as f64).collect())
            }
            (TensorData::Int(v), _) => {
                self.check_integer_range(v.iter().map(|&x| i128::from(x)))?;
                Ok(v.iter().map(|&x| x as f64).collect())
            }
            (TensorData::UInt(v), _) => {
                self.check_integer_range(v.iter().map(|&x| i128::from(x)))?;
                Ok(v.iter().map(|&x| x as f64).collect())
            }
            _ => Err(self.wrong_data()),
        }
    }

    /// The elements as `i64`, checked against the shape; integral floats are accepted, since some
    /// servers return labels as floats.
    pub fn to_i64(&self) -> Result<Vec<i64>> {
        self.check_count()?;
        match &self.data {
            TensorData::Int(v) => Ok(v.clone()),
            TensorData::UInt(v) => v
                .iter()
                .map(|&x| i64::try_from(x).map_err(|_| self.invalid(format!("value {x} does not fit INT64"))))
                .collect(),
            TensorData::Float(v) => v
                .iter()
                .map(|&x| {
                    if x.fract() == 0.0 && x.abs() < 2f64.powi(63) {
                        Ok(x as i64)
                    } else {
                        Err(self.invalid(format!("value {x} is not an integer")))
                    }
                })
                .collect(),
            _ => Err(self.wrong_data()),
        }
    }
}

/// An output a request asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedOutput {
    /// Output name.
    pub name: String,
    /// Output parameters (e.g. `binary_data`).
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Parameters::is_empty")]
    pub parameters: Parameters,
}

impl RequestedOutput {
    /// Asks for the output `name` in JSON.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), parameters: Parameters::new() }
    }

    /// Whether the client asked for the output in the binary tensor extension.
    pub fn binary_data(&self) -> bool {
        self.parameters.get("binary_data").and_then(serde_json::Value::as_bool).unwrap_or(false)
    }
}

/// `POST /v2/models/{name}[/versions/{v}]/infer` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceRequest {
    /// Request id, echoed in the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Request parameters.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Parameters::is_empty")]
    pub parameters: Parameters,
    /// Input tensors.
    pub inputs: Vec<Tensor>,
    /// Outputs to return (`None`: the model's default outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RequestedOutput>>,
}

/// Inference response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceResponse {
    /// The model that answered.
    pub model_name: String,
    /// Its version, if the server reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// The request's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Response parameters.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Parameters::is_empty")]
    pub parameters: Parameters,
    /// Output tensors.
    #[serde(default, deserialize_with = "null_as_default")]
    pub outputs: Vec<Tensor>,
}

impl InferenceResponse {
    /// The output called `name`.
    pub fn output(&self, name: &str) -> Option<&Tensor> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// `GET /v2` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// Server name.
    pub name: String,
    /// Server version.
    pub version: String,
    /// Protocol extensions supported.
    #[serde(default, deserialize_with = "null_as_default")]
    pub extensions: Vec<String>,
}

/// The declared name, type and shape of a model input or output (`-1`: any size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorMetadata {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub datatype: Datatype,
    /// Dimensions, `-1` for a variable one.
    pub shape: Vec<i64>,
    /// Tensor parameters.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Parameters::is_empty")]
    pub parameters: Parameters,
}

/// `GET /v2/models/{name}[/versions/{v}]` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// Model name.
    pub name: String,
    /// Available versions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    /// Framework or runtime, e.g. `aiops-iforest`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub platform: String,
    /// Inputs the model takes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub inputs: Vec<TensorMetadata>,
    /// Outputs the model can return.
    #[serde(default, deserialize_with = "null_as_default")]
    pub outputs: Vec<TensorMetadata>,
    /// Model parameters.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Parameters::is_empty")]
    pub parameters: Parameters,
}

/// The protocol's error body, `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: String,
}
