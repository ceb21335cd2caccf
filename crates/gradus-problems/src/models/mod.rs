//! Models fitted to data, with gradients written out by hand: linear regression
//! (Boston housing, the user's CSV) and classifiers on the digits (an MLP and
//! multinomial logistic regression).

mod classification_data;
mod cross_entropy;
mod least_squares;
mod linear_regression;
mod mlp;
mod softmax_regression;

pub use classification_data::ClassificationData;
pub use least_squares::{least_squares, LeastSquaresFit};
pub use linear_regression::LinearRegression;
pub use mlp::Mlp;
pub use softmax_regression::SoftmaxRegression;
