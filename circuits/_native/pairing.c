/*
 * BN254 optimal-ate multi-pairing check, #included by bn254.c (reuses its Montgomery fp / fp2 code).
 *
 * Tower: Fp2 = Fp[u]/(u^2 + 1), Fp6 = Fp2[v]/(v^3 - xi) with xi = 9 + u, Fp12 = Fp6[w]/(w^2 - v).
 * Since w^6 = xi, this w is py_ecc's w (its Fp12 is Fp[w]/(w^12 - 18 w^6 + 82), u = w^6 - 9), so
 * pairing values convert coefficient by coefficient (pairing_value, used by the tests).
 *
 * G2 lives on the D-type twist E': y^2 = x^3 + 3/xi, untwisted by (x, y) -> (x w^2, y w^3). The Miller
 * loop runs over 6x+2 (x = 4965661367192848881) in signed binary with T in homogeneous projective
 * coordinates; each step yields a line l = c0*yP + c1*xP*w + c2*w^3 (Costello-Lange-Naehrig formulas),
 * and the loop ends with the lines through pi(Q) and -pi^2(Q). A line depends on Q only (c0, c1, c2
 * are Fp2 values before P is plugged in), so the 91 lines of a fixed G2 point can be computed once
 * (g2_prepare) and replayed. Several pairs share one accumulator f: one Fp12 squaring per step for
 * all of them, then a single final exponentiation: easy part (p^6 - 1)(p^2 + 1) by conjugation,
 * inversion and Frobenius, hard part (p^4 - p^2 + 1)/r by the Devegili-Scott-Dahab chain in x
 * (three exponentiations by x with Granger-Scott cyclotomic squarings, Frobenius maps, 13 products).
 */

typedef struct { fp2 c0, c1, c2; } fp6;
typedef struct { fp6 c0, c1; } fp12;

/* Frobenius coefficients xi^(i(p-1)/6) (Fp2) and xi^(i(p^2-1)/6) (Fp), i = 1..5, Montgomery form. */
static const fp2 FROB1[6] = {
    {{{0, 0, 0, 0}}, {{0, 0, 0, 0}}},
    {{{0xaf9ba69633144907ULL, 0xca6b1d7387afb78aULL, 0x11bded5ef08a2087ULL, 0x02f34d751a1f3a7cULL}},
     {{0xa222ae234c492d72ULL, 0xd00f02a4565de15bULL, 0xdc2ff3a253dfc926ULL, 0x10a75716b3899551ULL}}},
    {{{0xb5773b104563ab30ULL, 0x347f91c8a9aa6454ULL, 0x7a007127242e0991ULL, 0x1956bcd8118214ecULL}},
     {{0x6e849f1ea0aa4757ULL, 0xaa1c7b6d89f89141ULL, 0xb6e713cdfae0ca3aULL, 0x26694fbb4e82ebc3ULL}}},
    {{{0xe4bbdd0c2936b629ULL, 0xbb30f162e133bacbULL, 0x31a9d1b6f9645366ULL, 0x253570bea500f8ddULL}},
     {{0xa1d77ce45ffe77c7ULL, 0x07affd117826d1dbULL, 0x6d16bd27bb7edc6bULL, 0x2c87200285defeccULL}}},
    {{{0x7361d77f843abe92ULL, 0xa5bb2bd3273411fbULL, 0x9c941f314b3e2399ULL, 0x15df9cddbb9fd3ecULL}},
     {{0x5dddfd154bd8c949ULL, 0x62cb29a5a4445b60ULL, 0x37bc870a0c7dd2b9ULL, 0x24830a9d3171f0fdULL}}},
    {{{0xc970692f41690fe7ULL, 0xe240342127694b0bULL, 0x32bee66b83c459e8ULL, 0x12aabced0ab08841ULL}},
     {{0x0d485d2340aebfa9ULL, 0x05193418ab2fcc57ULL, 0xd3b0a40b8a4910f5ULL, 0x2f21ebb535d2925aULL}}},
};
static const fp FROB2[6] = {
    {{0, 0, 0, 0}},
    {{0xca8d800500fa1bf2ULL, 0xf0c5d61468b39769ULL, 0x0e201271ad0d4418ULL, 0x04290f65bad856e6ULL}},
    {{0x3350c88e13e80b9cULL, 0x7dce557cdb5e56b9ULL, 0x6001b4b8b615564aULL, 0x2682e617020217e0ULL}},
    {{0x68c3488912edefaaULL, 0x8d087f6872aabf4fULL, 0x51e1a24709081231ULL, 0x2259d6b14729c0faULL}},
    {{0x71930c11d782e155ULL, 0xa6bb947cffbe3323ULL, 0xaa303344d4741444ULL, 0x2c3b3f0d26594943ULL}},
    {{0x08cfc388c494f1abULL, 0x19b315148d1373d4ULL, 0x584e90fdcb6c0213ULL, 0x09e1685bdf2f8849ULL}},
};
/* 3 * b' with b' = 3/xi, the twist's constant */
static const fp2 TWIST_B3 = {{{0x3baa927cb62e0d6aULL, 0xd71e7c52d1b664fdULL, 0x03873e63d95d4664ULL, 0x0e75b5b1082ab8f4ULL}},
                             {{0xaab7c6667596fe35ULL, 0x31d21a78bb6a27baULL, 0x85dd7297680401ffULL, 0x03c52d6adf39a7e9ULL}}};

/* 6x+2 in signed binary, least significant digit first (the digits py_ecc and go-ethereum use). */
static const int8_t ATE_DIGITS[65] = {0, 0, 0, 1, 0, 1, 0, -1, 0, 0, 1, -1, 0, 0, 1, 0, 0, 1, 1, 0, -1, 0, 0, 1, 0, -1,
                                      0, 0, 0, 0, 1, 1, 1, 0, 0, -1, 0, 0, 1, 0, 0, 0, 0, 0, -1, 0, 0, 1, 1, 0, 0, -1,
                                      0, 0, 0, 1, 1, 0, -1, 0, 0, 1, 0, 1, 1};
#define ATE_LINES 91 /* 64 doublings + 25 additions + 2 Frobenius additions */
#define LINE_BYTES (3 * sizeof(fp2))
#define PREPARED_BYTES (ATE_LINES * LINE_BYTES)
static const uint64_t BN_X = 4965661367192848881ULL;

static void fp_from_std(fp *r, const uint8_t *b) {
    fp x, r2 = {{0xf32cfc5b538afa89ULL, 0xb5e71911d44501fbULL, 0x47ab1eff0a417ff6ULL, 0x06d89f71cab8351fULL}};
    memcpy(x.v, b, 32);
    fp_mul(r, &x, &r2);
}

/* a / 2 mod p */
static inline void fp_half(fp *r, const fp *a) {
    uint64_t t[4], top = 0;
    memcpy(t, a->v, sizeof t);
    if (t[0] & 1) {
        u128 c = 0;
        for (int i = 0; i < 4; i++) {
            c += (u128)t[i] + PM[i];
            t[i] = (uint64_t)c;
            c >>= 64;
        }
        top = (uint64_t)c;
    }
    for (int i = 0; i < 3; i++) t[i] = (t[i] >> 1) | (t[i + 1] << 63);
    t[3] = (t[3] >> 1) | (top << 63);
    memcpy(r->v, t, sizeof t);
}

/* ------------------------------------------------------------------ more Fp2 */

static inline void f2_neg(fp2 *r, const fp2 *a) { fp_neg(&r->c0, &a->c0); fp_neg(&r->c1, &a->c1); }
static inline void f2_conj(fp2 *r, const fp2 *a) { r->c0 = a->c0; fp_neg(&r->c1, &a->c1); }
static inline void f2_mul_fp(fp2 *r, const fp2 *a, const fp *k) { fp_mul(&r->c0, &a->c0, k); fp_mul(&r->c1, &a->c1, k); }
static inline void f2_half(fp2 *r, const fp2 *a) { fp_half(&r->c0, &a->c0); fp_half(&r->c1, &a->c1); }
/* r = a * xi = (9 a0 - a1) + (9 a1 + a0) u */
static inline void f2_mul_xi(fp2 *r, const fp2 *a) {
    fp t0, t1;
    fp_dbl(&t0, &a->c0); fp_dbl(&t0, &t0); fp_dbl(&t0, &t0); fp_add(&t0, &t0, &a->c0);
    fp_dbl(&t1, &a->c1); fp_dbl(&t1, &t1); fp_dbl(&t1, &t1); fp_add(&t1, &t1, &a->c1);
    fp_sub(&t0, &t0, &a->c1);
    fp_add(&r->c1, &t1, &a->c0);
    r->c0 = t0;
}

/* ------------------------------------------------------------------ Fp6 */

static inline void f6_add(fp6 *r, const fp6 *a, const fp6 *b) { f2_add(&r->c0, &a->c0, &b->c0); f2_add(&r->c1, &a->c1, &b->c1); f2_add(&r->c2, &a->c2, &b->c2); }
static inline void f6_sub(fp6 *r, const fp6 *a, const fp6 *b) { f2_sub(&r->c0, &a->c0, &b->c0); f2_sub(&r->c1, &a->c1, &b->c1); f2_sub(&r->c2, &a->c2, &b->c2); }
static inline void f6_neg(fp6 *r, const fp6 *a) { f2_neg(&r->c0, &a->c0); f2_neg(&r->c1, &a->c1); f2_neg(&r->c2, &a->c2); }
/* r = a * v = (xi a2, a0, a1) */
static inline void f6_mul_v(fp6 *r, const fp6 *a) {
    fp2 t;
    f2_mul_xi(&t, &a->c2);
    r->c2 = a->c1; r->c1 = a->c0; r->c0 = t;
}

static void f6_mul(fp6 *r, const fp6 *a, const fp6 *b) {
    fp2 v0, v1, v2, s, t, c0, c1, c2;
    f2_mul(&v0, &a->c0, &b->c0); f2_mul(&v1, &a->c1, &b->c1); f2_mul(&v2, &a->c2, &b->c2);
    f2_add(&s, &a->c1, &a->c2); f2_add(&t, &b->c1, &b->c2); f2_mul(&c0, &s, &t);
    f2_sub(&c0, &c0, &v1); f2_sub(&c0, &c0, &v2); f2_mul_xi(&c0, &c0); f2_add(&c0, &c0, &v0);
    f2_add(&s, &a->c0, &a->c1); f2_add(&t, &b->c0, &b->c1); f2_mul(&c1, &s, &t);
    f2_sub(&c1, &c1, &v0); f2_sub(&c1, &c1, &v1); f2_mul_xi(&t, &v2); f2_add(&c1, &c1, &t);
    f2_add(&s, &a->c0, &a->c2); f2_add(&t, &b->c0, &b->c2); f2_mul(&c2, &s, &t);
    f2_sub(&c2, &c2, &v0); f2_sub(&c2, &c2, &v2); f2_add(&c2, &c2, &v1);
    r->c0 = c0; r->c1 = c1; r->c2 = c2;
}

static void f6_sqr(fp6 *r, const fp6 *a) { f6_mul(r, a, a); }

/* r = a * b for b = b0 + b1 v (5 Fp2 products) */
static void f6_mul_01(fp6 *r, const fp6 *a, const fp2 *b0, const fp2 *b1) {
    fp2 t0, t1, s, t, c0, c1, c2;
    f2_mul(&t0, &a->c0, b0); f2_mul(&t1, &a->c1, b1);
    f2_add(&s, &a->c1, &a->c2); f2_mul(&c0, &s, b1); f2_sub(&c0, &c0, &t1); f2_mul_xi(&c0, &c0); f2_add(&c0, &c0, &t0);
    f2_add(&s, &a->c0, &a->c1); f2_add(&t, b0, b1); f2_mul(&c1, &s, &t); f2_sub(&c1, &c1, &t0); f2_sub(&c1, &c1, &t1);
    f2_add(&s, &a->c0, &a->c2); f2_mul(&c2, &s, b0); f2_sub(&c2, &c2, &t0); f2_add(&c2, &c2, &t1);
    r->c0 = c0; r->c1 = c1; r->c2 = c2;
}

static inline void f6_mul_f2(fp6 *r, const fp6 *a, const fp2 *b) {
    f2_mul(&r->c0, &a->c0, b); f2_mul(&r->c1, &a->c1, b); f2_mul(&r->c2, &a->c2, b);
}

static void f6_inv(fp6 *r, const fp6 *a) {
    fp2 c0, c1, c2, t, s;
    f2_sqr(&c0, &a->c0); f2_mul(&t, &a->c1, &a->c2); f2_mul_xi(&t, &t); f2_sub(&c0, &c0, &t);
    f2_sqr(&c1, &a->c2); f2_mul_xi(&c1, &c1); f2_mul(&t, &a->c0, &a->c1); f2_sub(&c1, &c1, &t);
    f2_sqr(&c2, &a->c1); f2_mul(&t, &a->c0, &a->c2); f2_sub(&c2, &c2, &t);
    f2_mul(&t, &a->c2, &c1); f2_mul(&s, &a->c1, &c2); f2_add(&t, &t, &s); f2_mul_xi(&t, &t);
    f2_mul(&s, &a->c0, &c0); f2_add(&t, &t, &s);
    f2_inv(&t, &t);
    f2_mul(&r->c0, &c0, &t); f2_mul(&r->c1, &c1, &t); f2_mul(&r->c2, &c2, &t);
}

/* ------------------------------------------------------------------ Fp12 */

static void f12_set_one(fp12 *r) { memset(r, 0, sizeof *r); r->c0.c0.c0 = FPONE_; }
static int f12_is_one(const fp12 *a) {
    fp12 one;
    f12_set_one(&one);
    return memcmp(a, &one, sizeof one) == 0;
}
static inline void f12_conj(fp12 *r, const fp12 *a) { r->c0 = a->c0; f6_neg(&r->c1, &a->c1); }

static void f12_mul(fp12 *r, const fp12 *a, const fp12 *b) {
    fp6 t0, t1, s, t;
    f6_mul(&t0, &a->c0, &b->c0); f6_mul(&t1, &a->c1, &b->c1);
    f6_add(&s, &a->c0, &a->c1); f6_add(&t, &b->c0, &b->c1); f6_mul(&s, &s, &t);
    f6_sub(&s, &s, &t0); f6_sub(&r->c1, &s, &t1);
    f6_mul_v(&t1, &t1); f6_add(&r->c0, &t0, &t1);
}

/* (a0 + a1 w)^2 = (a0 + a1)(a0 + v a1) - (1 + v) a0 a1 + 2 a0 a1 w */
static void f12_sqr(fp12 *r, const fp12 *a) {
    fp6 ab, s, t, vab;
    f6_mul(&ab, &a->c0, &a->c1);
    f6_add(&s, &a->c0, &a->c1); f6_mul_v(&t, &a->c1); f6_add(&t, &t, &a->c0); f6_mul(&s, &s, &t);
    f6_sub(&s, &s, &ab); f6_mul_v(&vab, &ab); f6_sub(&r->c0, &s, &vab);
    f6_add(&r->c1, &ab, &ab);
}

/* f *= d0 + d1 w + d2 w^3, i.e. (d0) + (d1 + d2 v) w: 13 Fp2 products instead of 18 */
static void f12_mul_line(fp12 *f, const fp2 *d0, const fp2 *d1, const fp2 *d2) {
    fp6 t0, t1, s;
    fp2 e;
    f6_mul_f2(&t0, &f->c0, d0);
    f6_mul_01(&t1, &f->c1, d1, d2);
    f6_add(&s, &f->c0, &f->c1); f2_add(&e, d0, d1); f6_mul_01(&s, &s, &e, d2);
    f6_sub(&s, &s, &t0); f6_sub(&f->c1, &s, &t1);
    f6_mul_v(&t1, &t1); f6_add(&f->c0, &t0, &t1);
}

static void f12_inv(fp12 *r, const fp12 *a) {
    fp6 t0, t1;
    f6_sqr(&t0, &a->c0); f6_sqr(&t1, &a->c1); f6_mul_v(&t1, &t1); f6_sub(&t0, &t0, &t1);
    f6_inv(&t0, &t0);
    f6_mul(&r->c0, &a->c0, &t0);
    f6_mul(&t1, &a->c1, &t0); f6_neg(&r->c1, &t1);
}

/* Coefficient of w^i: c0 holds w^0, w^2, w^4 and c1 holds w^1, w^3, w^5. */
static inline fp2 *f12_coef(fp12 *a, int i) {
    fp6 *h = (i & 1) ? &a->c1 : &a->c0;
    return i / 2 == 0 ? &h->c0 : i / 2 == 1 ? &h->c1 : &h->c2;
}

/* a^p: conjugate each Fp2 coefficient, scale w^i by xi^(i(p-1)/6) */
static void f12_frob(fp12 *r, const fp12 *a) {
    *r = *a;
    for (int i = 0; i < 6; i++) {
        fp2 *c = f12_coef(r, i);
        f2_conj(c, c);
        if (i) f2_mul(c, c, &FROB1[i]);
    }
}

/* a^(p^2): scale w^i by xi^(i(p^2-1)/6) (in Fp) */
static void f12_frob2(fp12 *r, const fp12 *a) {
    *r = *a;
    for (int i = 1; i < 6; i++) {
        fp2 *c = f12_coef(r, i);
        f2_mul_fp(c, c, &FROB2[i]);
    }
}

/* Squaring in the cyclotomic subgroup (Granger-Scott): f = A + B w + C w^2 over Fp4 = Fp2[s]/(s^2 - xi),
 * s = w^3; f^2 = (3A^2 - 2 conj A) + (3 s C^2 + 2 conj B) w + (3 B^2 - 2 conj C) w^2. */
static inline void fp4_sqr(fp2 *r0, fp2 *r1, const fp2 *a, const fp2 *b) {
    fp2 t, s, u;
    f2_mul(&t, a, b);
    f2_add(&s, a, b); f2_mul_xi(&u, b); f2_add(&u, &u, a); f2_mul(&s, &s, &u);
    f2_sub(&s, &s, &t); f2_mul_xi(&u, &t); f2_sub(r0, &s, &u);
    f2_dbl(r1, &t);
}

static void f12_cyc_sqr(fp12 *r, const fp12 *a) {
    fp2 t0, t1, t2, t3, t4, t5, x;
    fp4_sqr(&t0, &t1, &a->c0.c0, &a->c1.c1); /* A = (w^0, w^3) */
    fp4_sqr(&t2, &t3, &a->c1.c0, &a->c0.c2); /* B = (w^1, w^4) */
    fp4_sqr(&t4, &t5, &a->c0.c1, &a->c1.c2); /* C = (w^2, w^5) */
    fp12 z = *a;
    /* z0 = 3 t0 - 2 z0, z3 = 3 t1 + 2 z3 (positions w^0, w^3) */
    f2_sub(&x, &t0, &z.c0.c0); f2_dbl(&x, &x); f2_add(&z.c0.c0, &x, &t0);
    f2_add(&x, &t1, &z.c1.c1); f2_dbl(&x, &x); f2_add(&z.c1.c1, &x, &t1);
    /* w^1 = 3 xi t5 + 2 z, w^4 = 3 t4 - 2 z */
    fp2 xt5;
    f2_mul_xi(&xt5, &t5);
    f2_add(&x, &xt5, &z.c1.c0); f2_dbl(&x, &x); f2_add(&z.c1.c0, &x, &xt5);
    f2_sub(&x, &t4, &z.c0.c2); f2_dbl(&x, &x); f2_add(&z.c0.c2, &x, &t4);
    /* w^2 = 3 t2 - 2 z, w^5 = 3 t3 + 2 z */
    f2_sub(&x, &t2, &z.c0.c1); f2_dbl(&x, &x); f2_add(&z.c0.c1, &x, &t2);
    f2_add(&x, &t3, &z.c1.c2); f2_dbl(&x, &x); f2_add(&z.c1.c2, &x, &t3);
    *r = z;
}

/* a^x for a in the cyclotomic subgroup */
static void f12_cyc_exp_x(fp12 *r, const fp12 *a) {
    fp12 acc = *a;
    for (int i = 61; i >= 0; i--) { /* x has 63 bits; the top one is acc = a */
        f12_cyc_sqr(&acc, &acc);
        if ((BN_X >> i) & 1) f12_mul(&acc, &acc, a);
    }
    *r = acc;
}

static void final_exp(fp12 *r, const fp12 *in) {
    fp12 t1, t2, inv, fp1, fp2_, fp3, fu, fu2, fu3, y0, y1, y2, y3, y4, y5, y6, t0;
    /* easy part: in^((p^6 - 1)(p^2 + 1)) */
    f12_conj(&t1, in);
    f12_inv(&inv, in);
    f12_mul(&t1, &t1, &inv);
    f12_frob2(&t2, &t1);
    f12_mul(&t1, &t1, &t2);
    /* hard part (p^4 - p^2 + 1)/r (Devegili-Scott-Dahab); inverses are conjugates from here on */
    f12_frob(&fp1, &t1);
    f12_frob2(&fp2_, &t1);
    f12_frob(&fp3, &fp2_);
    f12_cyc_exp_x(&fu, &t1);
    f12_cyc_exp_x(&fu2, &fu);
    f12_cyc_exp_x(&fu3, &fu2);
    f12_frob(&y3, &fu);
    f12_frob(&t2, &fu2);       /* fu2^p */
    f12_frob(&t0, &fu3);       /* fu3^p */
    f12_frob2(&y2, &fu2);
    f12_mul(&y0, &fp1, &fp2_); f12_mul(&y0, &y0, &fp3);
    f12_conj(&y1, &t1);
    f12_conj(&y5, &fu2);
    f12_conj(&y3, &y3);
    f12_mul(&y4, &fu, &t2); f12_conj(&y4, &y4);
    f12_mul(&y6, &fu3, &t0); f12_conj(&y6, &y6);
    f12_cyc_sqr(&t0, &y6);
    f12_mul(&t0, &t0, &y4); f12_mul(&t0, &t0, &y5);
    f12_mul(&t1, &y3, &y5); f12_mul(&t1, &t1, &t0);
    f12_mul(&t0, &t0, &y2);
    f12_cyc_sqr(&t1, &t1); f12_mul(&t1, &t1, &t0); f12_cyc_sqr(&t1, &t1);
    f12_mul(&t0, &t1, &y1);
    f12_mul(&t1, &t1, &y0);
    f12_cyc_sqr(&t0, &t0); f12_mul(r, &t0, &t1);
}

/* ------------------------------------------------------------------ G2 lines */

typedef struct { fp2 x, y, z; } g2_proj;
typedef struct { fp2 c0, c1, c2; } line_t; /* l(P) = c0*yP + c1*xP*w + c2*w^3 */

/* T = 2T and the tangent line at T (Costello-Lange-Naehrig, a = 0, homogeneous coordinates) */
static void line_double(line_t *l, g2_proj *T) {
    if (f2_is_zero(&T->z)) { /* T at infinity: the line is a constant, killed by the final exponentiation */
        memset(l, 0, sizeof *l); l->c2.c0 = FPONE_; return;
    }
    fp2 A, B, C, E, F, G, H, I, J, t;
    f2_mul(&A, &T->x, &T->y); f2_half(&A, &A);           /* XY/2 */
    f2_sqr(&B, &T->y);                                   /* Y^2 */
    f2_sqr(&C, &T->z);                                   /* Z^2 */
    f2_mul(&E, &C, &TWIST_B3);                           /* 3 b' Z^2 */
    f2_dbl(&F, &E); f2_add(&F, &F, &E);                  /* 3E */
    f2_add(&G, &B, &F); f2_half(&G, &G);                 /* (B + F)/2 */
    f2_add(&H, &T->y, &T->z); f2_sqr(&H, &H); f2_sub(&H, &H, &B); f2_sub(&H, &H, &C); /* 2YZ */
    f2_sub(&I, &E, &B);
    f2_sqr(&J, &T->x);
    f2_sub(&t, &B, &F); f2_mul(&T->x, &A, &t);
    f2_sqr(&t, &E); f2_dbl(&C, &t); f2_add(&C, &C, &t);  /* 3E^2 */
    f2_sqr(&T->y, &G); f2_sub(&T->y, &T->y, &C);
    f2_mul(&T->z, &B, &H);
    f2_neg(&l->c0, &H);
    f2_dbl(&l->c1, &J); f2_add(&l->c1, &l->c1, &J);
    l->c2 = I;
}

/* T = T + Q (Q affine) and the line through T and Q */
static void line_add(line_t *l, g2_proj *T, const fp2 *qx, const fp2 *qy) {
    if (f2_is_zero(&T->z)) { /* T = O: vertical line at Q, then T = Q */
        memset(&l->c0, 0, sizeof l->c0);
        f2_neg(&l->c1, &F2_ONE_INIT);
        l->c2 = *qx;
        T->x = *qx; T->y = *qy; T->z = F2_ONE_INIT;
        return;
    }
    fp2 theta, lambda, c, d, e, f, g, h, t;
    f2_mul(&t, qy, &T->z); f2_sub(&theta, &T->y, &t);
    f2_mul(&t, qx, &T->z); f2_sub(&lambda, &T->x, &t);
    if (f2_is_zero(&lambda) && f2_is_zero(&theta)) { line_double(l, T); return; } /* T == Q */
    f2_sqr(&c, &theta); f2_sqr(&d, &lambda);
    f2_mul(&e, &lambda, &d); f2_mul(&f, &T->z, &c); f2_mul(&g, &T->x, &d);
    f2_add(&h, &e, &f); f2_sub(&h, &h, &g); f2_sub(&h, &h, &g);
    f2_mul(&T->x, &lambda, &h);
    f2_sub(&t, &g, &h); f2_mul(&t, &theta, &t); f2_mul(&T->y, &e, &T->y); f2_sub(&T->y, &t, &T->y);
    f2_mul(&T->z, &T->z, &e);
    f2_mul(&l->c2, &theta, qx); f2_mul(&t, &lambda, qy); f2_sub(&l->c2, &l->c2, &t);
    l->c0 = lambda;
    f2_neg(&l->c1, &theta);
}

/* All ATE_LINES lines of the Miller loop for Q (affine, Montgomery form, not infinity). */
static void g2_lines(line_t *out, const fp2 *qx, const fp2 *qy) {
    g2_proj T = {*qx, *qy, F2_ONE_INIT};
    fp2 nqy;
    f2_neg(&nqy, qy);
    int k = 0;
    for (int i = 63; i >= 0; i--) {
        line_double(&out[k++], &T);
        if (ATE_DIGITS[i] == 1) line_add(&out[k++], &T, qx, qy);
        else if (ATE_DIGITS[i] == -1) line_add(&out[k++], &T, qx, &nqy);
    }
    /* Q1 = pi(Q) = (conj(x) xi^((p-1)/3), conj(y) xi^((p-1)/2)); -Q2 = -pi^2(Q) = (x xi^((p^2-1)/3), y) */
    fp2 x1, y1, x2;
    f2_conj(&x1, qx); f2_mul(&x1, &x1, &FROB1[2]);
    f2_conj(&y1, qy); f2_mul(&y1, &y1, &FROB1[3]);
    f2_mul_fp(&x2, qx, &FROB2[2]);
    line_add(&out[k++], &T, &x1, &y1);
    line_add(&out[k++], &T, &x2, qy);
}

static inline void f12_mul_line_at(fp12 *f, const line_t *l, const fp *xp, const fp *yp) {
    fp2 d0, d1;
    f2_mul_fp(&d0, &l->c0, yp);
    f2_mul_fp(&d1, &l->c1, xp);
    f12_mul_line(f, &d0, &d1, &l->c2);
}

/* One accumulator for all pairs: f = prod_j f_{6x+2,Q_j}(P_j) * (Frobenius lines). */
static void multi_miller(fp12 *f, const line_t *const *lines, const fp *px, const fp *py, size_t n) {
    f12_set_one(f);
    int k = 0;
    for (int i = 63; i >= 0; i--) {
        if (i != 63) f12_sqr(f, f);
        for (size_t j = 0; j < n; j++) f12_mul_line_at(f, &lines[j][k], &px[j], &py[j]);
        k++;
        if (ATE_DIGITS[i]) {
            for (size_t j = 0; j < n; j++) f12_mul_line_at(f, &lines[j][k], &px[j], &py[j]);
            k++;
        }
    }
    for (int e = 0; e < 2; e++, k++)
        for (size_t j = 0; j < n; j++) f12_mul_line_at(f, &lines[j][k], &px[j], &py[j]);
}

/* ------------------------------------------------------------------ Python entry points */

static void g2_from_std(fp2 *x, fp2 *y, const uint8_t *b) {
    fp_from_std(&x->c0, b); fp_from_std(&x->c1, b + 32); fp_from_std(&y->c0, b + 64); fp_from_std(&y->c1, b + 96);
}

/* g2_prepare(g2) -> lines: g2 = x0|x1|y0|y1 standard form, 32-byte LE each, not the point at infinity. */
static PyObject *py_g2_prepare(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer q;
    if (!PyArg_ParseTuple(args, "y*", &q)) return NULL;
    if (q.len != 128) { PyBuffer_Release(&q); PyErr_SetString(PyExc_ValueError, "g2_prepare: expected 128 bytes"); return NULL; }
    PyObject *res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)PREPARED_BYTES);
    if (res) {
        line_t *out = (line_t *)PyBytes_AS_STRING(res);
        fp2 x, y;
        g2_from_std(&x, &y, q.buf);
        Py_BEGIN_ALLOW_THREADS
        g2_lines(out, &x, &y);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&q);
    return res;
}

/* g2_in_subgroup(g2) -> bool: r*Q == O, by the same windowed multiplication as mul_each_g2 with k = r
 * itself (not reduced). g2 as g2_prepare takes it (standard form); all zero = infinity (True). The
 * caller checks the curve equation; this checks only the order. */
static PyObject *py_g2_in_subgroup(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer q;
    if (!PyArg_ParseTuple(args, "y*", &q)) return NULL;
    if (q.len != 128) { PyBuffer_Release(&q); PyErr_SetString(PyExc_ValueError, "g2_in_subgroup: expected 128 bytes"); return NULL; }
    int inf = 1;
    for (int i = 0; i < 128; i++) inf &= ((const uint8_t *)q.buf)[i] == 0;
    int ok = 1;
    if (!inf) {
        g2_jac p, rp;
        g2_from_std(&p.x, &p.y, q.buf);
        p.z = F2_ONE_INIT;
        Py_BEGIN_ALLOW_THREADS
        g2_mul(&rp, &p, RM);
        Py_END_ALLOW_THREADS
        ok = g2_is_inf(&rp);
    }
    PyBuffer_Release(&q);
    return PyBool_FromLong(ok);
}

/* Shared by pairing_check and pairing_value: g1s = n * (x|y) standard LE (64 bytes each), g2s = a
 * sequence of n bytes objects, each a G2 point (128 bytes, as g2_prepare takes) or a g2_prepare
 * result. Pairs with a point at infinity are the caller's to drop. Returns 0 and sets *out on success. */
static int pairing_product(PyObject *args, fp12 *out) {
    Py_buffer g1b;
    PyObject *g2seq;
    if (!PyArg_ParseTuple(args, "y*O", &g1b, &g2seq)) return -1;
    /* a tuple owns its items: the bytes stay alive (and in place) while the GIL is released */
    PyObject *items = PySequence_Tuple(g2seq);
    if (!items) { PyBuffer_Release(&g1b); return -1; }
    size_t n = (size_t)PyTuple_GET_SIZE(items);
    int rc = -1;
    fp *px = NULL, *py = NULL;
    fp2 *qx = NULL, *qy = NULL;
    const line_t **lines = NULL;
    line_t *fresh = NULL;
    int *todo = NULL;
    if ((size_t)g1b.len != 64 * n) { PyErr_SetString(PyExc_ValueError, "pairing: expected 64 bytes per G1 point"); goto out; }
    px = malloc((n + 1) * sizeof *px); py = malloc((n + 1) * sizeof *py);
    qx = malloc((n + 1) * sizeof *qx); qy = malloc((n + 1) * sizeof *qy);
    lines = malloc((n + 1) * sizeof *lines);
    todo = calloc(n + 1, sizeof *todo);
    if (!px || !py || !qx || !qy || !lines || !todo) { PyErr_NoMemory(); goto out; }
    size_t n_fresh = 0;
    const uint8_t *g1 = g1b.buf;
    for (size_t j = 0; j < n; j++) {
        fp_from_std(&px[j], g1 + 64 * j); fp_from_std(&py[j], g1 + 64 * j + 32);
        char *buf; Py_ssize_t len;
        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(items, (Py_ssize_t)j), &buf, &len) < 0) goto out;
        if (len == 128) {
            g2_from_std(&qx[j], &qy[j], (const uint8_t *)buf);
            todo[j] = 1;
            n_fresh++;
        } else if ((size_t)len == PREPARED_BYTES) {
            lines[j] = (const line_t *)buf;
        } else {
            PyErr_SetString(PyExc_ValueError, "pairing: a G2 entry is neither 128 bytes nor prepared lines");
            goto out;
        }
    }
    fresh = malloc((n_fresh + 1) * PREPARED_BYTES);
    if (!fresh) { PyErr_NoMemory(); goto out; }
    Py_BEGIN_ALLOW_THREADS
    line_t *next = fresh;
    for (size_t j = 0; j < n; j++)
        if (todo[j]) { g2_lines(next, &qx[j], &qy[j]); lines[j] = next; next += ATE_LINES; }
    fp12 f;
    multi_miller(&f, lines, px, py, n);
    final_exp(out, &f);
    Py_END_ALLOW_THREADS
    rc = 0;
out:
    free(px); free(py); free(qx); free(qy); free(lines); free(fresh); free(todo);
    Py_DECREF(items);
    PyBuffer_Release(&g1b);
    return rc;
}

/* pairing_check(g1s, g2s) -> bool: prod e(P_j, Q_j) == 1 */
static PyObject *py_pairing_check(PyObject *self, PyObject *args) {
    (void)self;
    fp12 r;
    if (pairing_product(args, &r) < 0) return NULL;
    return PyBool_FromLong(f12_is_one(&r));
}

/* pairing_value(g1s, g2s) -> 384 bytes: prod e(P_j, Q_j) in py_ecc's basis (coefficients of w^0..w^11,
 * standard form, 32-byte LE), for tests against py_ecc. */
static PyObject *py_pairing_value(PyObject *self, PyObject *args) {
    (void)self;
    fp12 r;
    if (pairing_product(args, &r) < 0) return NULL;
    fp c[12];
    memset(c, 0, sizeof c);
    fp nine = FPONE_;
    for (int i = 0; i < 3; i++) fp_dbl(&nine, &nine);
    fp_add(&nine, &nine, &FPONE_);
    for (int i = 0; i < 6; i++) { /* a + b u = (a - 9 b) + b w^6 */
        const fp2 *a = f12_coef(&r, i);
        fp t;
        fp_mul(&t, &a->c1, &nine);
        fp_sub(&c[i], &a->c0, &t);
        c[i + 6] = a->c1;
    }
    uint8_t outb[384];
    for (int i = 0; i < 12; i++) { fp s; fp_from_mont(&s, &c[i]); memcpy(outb + 32 * i, s.v, 32); }
    return PyBytes_FromStringAndSize((const char *)outb, 384);
}
