// sin and cos of rational angles 2*pi*n/d from basic IEEE double operations only, so every machine,
// compiler and GPU gets the same bits (libm results differ by an ulp between platforms).
// The argument reduction is exact integer arithmetic; the polynomials are Taylor series on
// [-pi/4, pi/4], where the first omitted term is below 5e-17.
#pragma once
#include <cstdint>
#include "hd.hpp"

namespace vatom {

VATOM_HD double det_sin_poly(double a) {
  const double a2 = a * a;
  // a - a^3/3! + a^5/5! - ... - a^15/15!, Horner form, no contraction (built with -ffp-contract=off).
  double p = -7.647163731819816e-13;   // -1/15!
  p = p * a2 + 1.6059043836821613e-10;  // 1/13!
  p = p * a2 + -2.505210838544172e-08;  // -1/11!
  p = p * a2 + 2.7557319223985893e-06;  // 1/9!
  p = p * a2 + -1.984126984126984e-04;  // -1/7!
  p = p * a2 + 8.333333333333333e-03;   // 1/5!
  p = p * a2 + -1.6666666666666666e-01; // -1/3!
  return a + a * (a2 * p);
}

VATOM_HD double det_cos_poly(double a) {
  const double a2 = a * a;
  double p = 4.779477332387385e-14;     // 1/16!
  p = p * a2 + -1.1470745597729725e-11; // -1/14!
  p = p * a2 + 2.08767569878681e-09;    // 1/12!
  p = p * a2 + -2.755731922398589e-07;  // -1/10!
  p = p * a2 + 2.48015873015873e-05;    // 1/8!
  p = p * a2 + -1.388888888888889e-03;  // -1/6!
  p = p * a2 + 4.1666666666666664e-02;  // 1/4!
  p = p * a2 + -0.5;                    // -1/2!
  return 1.0 + a2 * p;
}

struct SinCos {
  double s;
  double c;
};

// sin and cos of 2*pi*n/d for 0 <= n, 1 <= d < 2^29.
VATOM_HD SinCos det_sincos_turns(int64_t n, int64_t d) {
  n %= d;
  const int64_t four_n = 4 * n;
  const int64_t quadrant = (2 * four_n + d) / (2 * d);  // nearest quarter turn: round(4n/d)
  const int64_t rem = four_n - quadrant * d;            // in [-d/2, d/2]
  const double a = (static_cast<double>(rem) / static_cast<double>(d)) * 1.5707963267948966;
  const double s = det_sin_poly(a);
  const double c = det_cos_poly(a);
  switch (quadrant & 3) {
    case 0: return SinCos{s, c};
    case 1: return SinCos{c, -s};
    case 2: return SinCos{-s, -c};
    default: return SinCos{-c, s};
  }
}

}  // namespace vatom
