/*
 * BN254 multi-scalar multiplication kernel for zkmargin (G1 and G2), optional.
 *
 * Why: Pippenger in pure Python spends ~80 us per point; this kernel does the same algorithm
 * (signed-digit windows, windows split across threads) on 4x64-bit Montgomery limbs, plus the GLV
 * endomorphism and batch-affine bucket additions (see the Pippenger section; the plain path stays
 * selectable for comparison). The pure-Python path in circuits/msm.py stays the reference:
 * tests compare the two on random inputs, and the package works without this module.
 *
 * Input points: affine, coordinates in Montgomery form, 32-byte little-endian limbs
 * (snarkjs's .zkey layout), G1 = x|y (64 bytes), G2 = x0|x1|y0|y1 (128 bytes); all-zero bytes
 * encode the point at infinity. Scalars: 32-byte little-endian, standard form, reduced mod r.
 * Output: affine in standard form (not Montgomery), little-endian, all zero for infinity.
 */
#define PY_SSIZE_T_CLEAN
/* Field elements are four 64-bit limbs written by scalar stores (the carry chains); GCC's SLP vectorizer
 * then copies them with 16-byte loads, which cannot be forwarded from two 8-byte stores still in flight:
 * a stall on every point copy in the MSM's bucket updates (measured under perf). Scalar copies only. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-slp-vectorize")
#endif
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef struct { uint64_t v[4]; } fp;
typedef struct { fp c0, c1; } fp2;

static const uint64_t PM[4] = {0x3c208c16d87cfd47ULL, 0x97816a916871ca8dULL, 0xb85045b68181585dULL, 0x30644e72e131a029ULL};
static const uint64_t PINV = 0x87d20782e4866389ULL;
static const fp FPONE_ = {{0xd35d438dc58f0d9dULL, 0x0a78eb28f5c70b3dULL, 0x666ea36f7879462cULL, 0x0e0a77c19a07df2fULL}};
static const fp FPZERO_ = {{0, 0, 0, 0}};

/* Limb by limb: a struct copy compiles to 16-byte moves that stall on limbs just written one by one. */
static inline void fp_cpy(fp *d, const fp *s) { d->v[0] = s->v[0]; d->v[1] = s->v[1]; d->v[2] = s->v[2]; d->v[3] = s->v[3]; }
static inline int fp_is_zero(const fp *a) { return (a->v[0] | a->v[1] | a->v[2] | a->v[3]) == 0; }
static inline int fp_eq(const fp *a, const fp *b) {
    return a->v[0] == b->v[0] && a->v[1] == b->v[1] && a->v[2] == b->v[2] && a->v[3] == b->v[3];
}

static inline int geq_mod(const uint64_t t[4]) {
    for (int i = 3; i >= 0; i--) {
        if (t[i] > PM[i]) return 1;
        if (t[i] < PM[i]) return 0;
    }
    return 1;
}

static inline void sub_mod_raw(uint64_t t[4]) {
    u128 bw = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)t[i] - PM[i] - bw;
        t[i] = (uint64_t)d;
        bw = (d >> 64) & 1;
    }
}

/* ------------------------------------------------------------------ mulx/adx Montgomery multiplication
 * x86-64 BMI2 (mulx) + ADX (adcx/adox: two independent carry chains) version of the CIOS loop above,
 * the "no-carry" variant (valid because both p's and r's top limb is < 2^63 - 1, so t stays < 2^256).
 * Inline asm rather than _mulx_u64/_addcarryx_u64 intrinsics: GCC folds the intrinsics back into one
 * adc chain, and asm (unlike __attribute__((target))) can be inlined into every caller, so the choice
 * costs one well-predicted branch on a global set once at import (fp_use_mulx; CPUID leaf 7 EBX bits
 * 8 and 19; ZKMARGIN_PORTABLE_FP=1 forces the portable path). Without GCC/Clang on x86-64 only the
 * portable path is compiled. The same routine serves Fp (PM, PINV) and Fr (RM, RINV). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ZKMARGIN_NO_MULX)
#define ZK_HAVE_MULX 1
#include <cpuid.h>
static int fp_use_mulx = 0;

/* one "t += x * y[i]" step (i > 0): AX/BP temporaries, A ends in %[A] */
#define ZK_MULX_ROW(yoff)                                                                  \
    "xorq %%rax, %%rax\n\t"                                                                \
    "movq " yoff "(%[y]), %%rdx\n\t"                                                       \
    "mulxq 0(%[x]), %%rax, %[A]\n\t"  "adoxq %%rax, %[t0]\n\t"                             \
    "adcxq %[A], %[t1]\n\t" "mulxq 8(%[x]), %%rax, %[A]\n\t"  "adoxq %%rax, %[t1]\n\t"     \
    "adcxq %[A], %[t2]\n\t" "mulxq 16(%[x]), %%rax, %[A]\n\t" "adoxq %%rax, %[t2]\n\t"     \
    "adcxq %[A], %[t3]\n\t" "mulxq 24(%[x]), %%rax, %[A]\n\t" "adoxq %%rax, %[t3]\n\t"     \
    "movq $0, %%rax\n\t" "adcxq %%rax, %[A]\n\t" "adoxq %%rax, %[A]\n\t"
/* m = t0 * inv; t = (t + m * q) / 2^64, then t3 += A */
#define ZK_MULX_RED                                                                        \
    "movq %[inv], %%rdx\n\t" "imulq %[t0], %%rdx\n\t" "xorq %%rax, %%rax\n\t"              \
    "mulxq 0(%[q]), %%rax, %[h]\n\t" "adcxq %[t0], %%rax\n\t" "movq %[h], %[t0]\n\t"       \
    "adcxq %[t1], %[t0]\n\t" "mulxq 8(%[q]), %%rax, %[t1]\n\t"  "adoxq %%rax, %[t0]\n\t"   \
    "adcxq %[t2], %[t1]\n\t" "mulxq 16(%[q]), %%rax, %[t2]\n\t" "adoxq %%rax, %[t1]\n\t"   \
    "adcxq %[t3], %[t2]\n\t" "mulxq 24(%[q]), %%rax, %[t3]\n\t" "adoxq %%rax, %[t2]\n\t"   \
    "movq $0, %%rax\n\t" "adcxq %%rax, %[t3]\n\t" "adoxq %[A], %[t3]\n\t"

static inline __attribute__((always_inline)) void mont_mul_mulx(uint64_t r[4], const uint64_t x[4], const uint64_t y[4], const uint64_t q[4],
                                 uint64_t inv) {
    uint64_t t0, t1, t2, t3, A, h;
    __asm__(
        "xorq %%rax, %%rax\n\t"
        "movq 0(%[y]), %%rdx\n\t"
        "mulxq 0(%[x]), %[t0], %[t1]\n\t"
        "mulxq 8(%[x]), %%rax, %[t2]\n\t"  "adoxq %%rax, %[t1]\n\t"
        "mulxq 16(%[x]), %%rax, %[t3]\n\t" "adoxq %%rax, %[t2]\n\t"
        "mulxq 24(%[x]), %%rax, %[A]\n\t"  "adoxq %%rax, %[t3]\n\t"
        "movq $0, %%rax\n\t" "adoxq %%rax, %[A]\n\t"
        ZK_MULX_RED
        ZK_MULX_ROW("8") ZK_MULX_RED
        ZK_MULX_ROW("16") ZK_MULX_RED
        ZK_MULX_ROW("24") ZK_MULX_RED
        /* t < 2q: subtract q unless that borrows, branch-free (cmov) */
        "movq %[t0], %%rax\n\t" "subq 0(%[q]), %%rax\n\t"
        "movq %[t1], %%rdx\n\t" "sbbq 8(%[q]), %%rdx\n\t"
        "movq %[t2], %[A]\n\t"  "sbbq 16(%[q]), %[A]\n\t"
        "movq %[t3], %[h]\n\t"  "sbbq 24(%[q]), %[h]\n\t"
        "cmovaeq %%rax, %[t0]\n\t" "cmovaeq %%rdx, %[t1]\n\t" "cmovaeq %[A], %[t2]\n\t" "cmovaeq %[h], %[t3]\n\t"
        : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [A] "=&r"(A), [h] "=&r"(h)
        : [x] "r"(x), [y] "r"(y), [q] "r"(q), [inv] "r"(inv), "m"(*(const uint64_t(*)[4])x),
          "m"(*(const uint64_t(*)[4])y), "m"(*(const uint64_t(*)[4])q)
        : "rax", "rdx", "cc");
    r[0] = t0; r[1] = t1; r[2] = t2; r[3] = t3;
}

static void fp_mulx_detect(void) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    const char *env = getenv("ZKMARGIN_PORTABLE_FP");
    fp_use_mulx = 0;
    if (env && *env && strcmp(env, "0") != 0) return;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 8)) && (b & (1u << 19))) fp_use_mulx = 1;
}
static int fp_mulx_supported(void) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 8)) && (b & (1u << 19));
}
#else
#define ZK_HAVE_MULX 0
#define fp_use_mulx 0
static void fp_mulx_detect(void) {}
static int fp_mulx_supported(void) { return 0; }
#endif

/* Branch-free modular addition and subtraction on scalar limbs (no arrays: GCC then keeps them in
 * registers; the array form's vector reload of the result stalled on store forwarding). Operands < p
 * < 2^254, so a + b never carries out of 256 bits. */
#define ZK_MODADD(r, a, b, M)                                                                      \
    do {                                                                                           \
        u128 c_ = (u128)(a)[0] + (b)[0]; uint64_t s0 = (uint64_t)c_;                               \
        c_ = (c_ >> 64) + (a)[1] + (b)[1]; uint64_t s1 = (uint64_t)c_;                             \
        c_ = (c_ >> 64) + (a)[2] + (b)[2]; uint64_t s2 = (uint64_t)c_;                             \
        uint64_t s3 = (uint64_t)(c_ >> 64) + (a)[3] + (b)[3];                                      \
        u128 d_ = (u128)s0 - (M)[0]; uint64_t d0 = (uint64_t)d_;                                   \
        d_ = (u128)s1 - (M)[1] - (uint64_t)((d_ >> 64) & 1); uint64_t d1 = (uint64_t)d_;           \
        d_ = (u128)s2 - (M)[2] - (uint64_t)((d_ >> 64) & 1); uint64_t d2 = (uint64_t)d_;           \
        d_ = (u128)s3 - (M)[3] - (uint64_t)((d_ >> 64) & 1); uint64_t d3 = (uint64_t)d_;           \
        uint64_t keep_ = (uint64_t)0 - (uint64_t)((d_ >> 64) & 1); /* all ones: s < M, keep s */   \
        (r)[0] = (s0 & keep_) | (d0 & ~keep_); (r)[1] = (s1 & keep_) | (d1 & ~keep_);              \
        (r)[2] = (s2 & keep_) | (d2 & ~keep_); (r)[3] = (s3 & keep_) | (d3 & ~keep_);              \
    } while (0)
#define ZK_MODSUB(r, a, b, M)                                                                      \
    do {                                                                                           \
        u128 d_ = (u128)(a)[0] - (b)[0]; uint64_t t0 = (uint64_t)d_;                               \
        d_ = (u128)(a)[1] - (b)[1] - (uint64_t)((d_ >> 64) & 1); uint64_t t1 = (uint64_t)d_;       \
        d_ = (u128)(a)[2] - (b)[2] - (uint64_t)((d_ >> 64) & 1); uint64_t t2 = (uint64_t)d_;       \
        d_ = (u128)(a)[3] - (b)[3] - (uint64_t)((d_ >> 64) & 1); uint64_t t3 = (uint64_t)d_;       \
        uint64_t add_ = (uint64_t)0 - (uint64_t)((d_ >> 64) & 1); /* all ones: borrowed, add M */ \
        u128 c_ = (u128)t0 + ((M)[0] & add_); (r)[0] = (uint64_t)c_;                               \
        c_ = (c_ >> 64) + t1 + ((M)[1] & add_); (r)[1] = (uint64_t)c_;                             \
        c_ = (c_ >> 64) + t2 + ((M)[2] & add_); (r)[2] = (uint64_t)c_;                             \
        (r)[3] = (uint64_t)(c_ >> 64) + t3 + ((M)[3] & add_);                                      \
    } while (0)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ZKMARGIN_NO_ASM_ADDSUB)
/* The same two operations in x86-64 assembly (baseline instructions, no CPU check needed): one carry
 * chain and a masked or conditional correction, ~20 instructions. GCC compiles the C macros above with
 * the 128-bit temporaries partly on the stack inside the large MSM and NTT loops (seen under perf),
 * and the batch-affine bucket addition does six or seven of these per point. Operands < M < 2^254
 * (both moduli), so a + b never carries out of 256 bits. The C macros stay the reference
 * (ZKMARGIN_NO_ASM_ADDSUB builds them; tests/test_fp_mulx.py compares both through field_addsub_batch). */
#define ZK_HAVE_ASM_ADDSUB 1
static inline __attribute__((always_inline)) void modsub_asm(uint64_t r[4], const uint64_t a[4], const uint64_t b[4], const uint64_t m[4]) {
    uint64_t t0 = a[0], t1 = a[1], t2 = a[2], t3 = a[3], k, x0, x1, x2;
    __asm__("subq 0(%[b]), %[t0]\n\t" "sbbq 8(%[b]), %[t1]\n\t" "sbbq 16(%[b]), %[t2]\n\t" "sbbq 24(%[b]), %[t3]\n\t"
            "sbbq %[k], %[k]\n\t" /* all ones if a < b: add m back */
            "movq 0(%[m]), %[x0]\n\t" "andq %[k], %[x0]\n\t"
            "movq 8(%[m]), %[x1]\n\t" "andq %[k], %[x1]\n\t"
            "movq 16(%[m]), %[x2]\n\t" "andq %[k], %[x2]\n\t"
            "andq 24(%[m]), %[k]\n\t"
            "addq %[x0], %[t0]\n\t" "adcq %[x1], %[t1]\n\t" "adcq %[x2], %[t2]\n\t" "adcq %[k], %[t3]\n\t"
            : [t0] "+r"(t0), [t1] "+r"(t1), [t2] "+r"(t2), [t3] "+r"(t3), [k] "=&r"(k), [x0] "=&r"(x0), [x1] "=&r"(x1),
              [x2] "=&r"(x2)
            : [b] "r"(b), [m] "r"(m), "m"(*(const uint64_t(*)[4])b), "m"(*(const uint64_t(*)[4])m)
            : "cc");
    r[0] = t0; r[1] = t1; r[2] = t2; r[3] = t3;
}
static inline __attribute__((always_inline)) void modadd_asm(uint64_t r[4], const uint64_t a[4], const uint64_t b[4], const uint64_t m[4]) {
    uint64_t t0 = a[0], t1 = a[1], t2 = a[2], t3 = a[3], s0, s1, s2, s3;
    __asm__("addq 0(%[b]), %[t0]\n\t" "adcq 8(%[b]), %[t1]\n\t" "adcq 16(%[b]), %[t2]\n\t" "adcq 24(%[b]), %[t3]\n\t"
            "movq %[t0], %[s0]\n\t" "subq 0(%[m]), %[s0]\n\t"
            "movq %[t1], %[s1]\n\t" "sbbq 8(%[m]), %[s1]\n\t"
            "movq %[t2], %[s2]\n\t" "sbbq 16(%[m]), %[s2]\n\t"
            "movq %[t3], %[s3]\n\t" "sbbq 24(%[m]), %[s3]\n\t"
            "cmovaeq %[s0], %[t0]\n\t" "cmovaeq %[s1], %[t1]\n\t" "cmovaeq %[s2], %[t2]\n\t" "cmovaeq %[s3], %[t3]\n\t"
            : [t0] "+r"(t0), [t1] "+r"(t1), [t2] "+r"(t2), [t3] "+r"(t3), [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2),
              [s3] "=&r"(s3)
            : [b] "r"(b), [m] "r"(m), "m"(*(const uint64_t(*)[4])b), "m"(*(const uint64_t(*)[4])m)
            : "cc");
    r[0] = t0; r[1] = t1; r[2] = t2; r[3] = t3;
}
static inline __attribute__((always_inline)) void fp_add(fp *r, const fp *a, const fp *b) { modadd_asm(r->v, a->v, b->v, PM); }
static inline __attribute__((always_inline)) void fp_sub(fp *r, const fp *a, const fp *b) { modsub_asm(r->v, a->v, b->v, PM); }
#else
#define ZK_HAVE_ASM_ADDSUB 0
static inline __attribute__((always_inline)) void fp_add(fp *r, const fp *a, const fp *b) { ZK_MODADD(r->v, a->v, b->v, PM); }
static inline __attribute__((always_inline)) void fp_sub(fp *r, const fp *a, const fp *b) { ZK_MODSUB(r->v, a->v, b->v, PM); }
#endif

static inline void fp_neg(fp *r, const fp *a) {
    if (fp_is_zero(a)) { *r = *a; return; }
    fp m; memcpy(m.v, PM, sizeof PM);
    fp_sub(r, &m, a);
}

/* CIOS Montgomery multiplication: r = a*b / 2^256 mod p (portable C; operands < p). */
static inline void fp_mul_portable(fp *r, const fp *a, const fp *b) {
    uint64_t t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u128 c = 0;
        for (int j = 0; j < 4; j++) {
            c += (u128)a->v[j] * b->v[i] + t[j];
            t[j] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[4] = (uint64_t)c;
        t[5] = (uint64_t)(c >> 64);
        uint64_t m = t[0] * PINV;
        c = ((u128)m * PM[0] + t[0]) >> 64;
        for (int j = 1; j < 4; j++) {
            c += (u128)m * PM[j] + t[j];
            t[j - 1] = (uint64_t)c;
            c >>= 64;
        }
        c += t[4];
        t[3] = (uint64_t)c;
        t[4] = t[5] + (uint64_t)(c >> 64);
    }
    if (t[4] || geq_mod(t)) sub_mod_raw(t);
    memcpy(r->v, t, 4 * sizeof(uint64_t));
}

/* Every Fp multiplication in the kernel (MSM, pairing tower, setup FFTs) goes through here. */
static inline __attribute__((always_inline)) void fp_mul(fp *r, const fp *a, const fp *b) {
#if ZK_HAVE_MULX
    if (fp_use_mulx) { mont_mul_mulx(r->v, a->v, b->v, PM, PINV); return; }
#endif
    fp_mul_portable(r, a, b);
}
static inline void fp_sqr(fp *r, const fp *a) { fp_mul(r, a, a); }
static inline void fp_dbl(fp *r, const fp *a) { fp_add(r, a, a); }

static void fp_inv(fp *r, const fp *a) {
    /* a^(p-2) by square-and-multiply over the exponent's bits */
    uint64_t e[4] = {PM[0] - 2, PM[1], PM[2], PM[3]};
    fp acc = FPONE_, base = *a;
    for (int i = 0; i < 4; i++) {
        uint64_t w = e[i];
        for (int b = 0; b < 64; b++) {
            if (w & 1) fp_mul(&acc, &acc, &base);
            fp_sqr(&base, &base);
            w >>= 1;
        }
    }
    *r = acc;
}

static void fp_from_mont(fp *r, const fp *a) {
    fp one = {{1, 0, 0, 0}};
    fp_mul(r, a, &one);
}

/* ------------------------------------------------------------------ Fp2 = Fp[u]/(u^2+1) */

static inline void f2_add(fp2 *r, const fp2 *a, const fp2 *b) { fp_add(&r->c0, &a->c0, &b->c0); fp_add(&r->c1, &a->c1, &b->c1); }
static inline void f2_sub(fp2 *r, const fp2 *a, const fp2 *b) { fp_sub(&r->c0, &a->c0, &b->c0); fp_sub(&r->c1, &a->c1, &b->c1); }
static inline void f2_dbl(fp2 *r, const fp2 *a) { f2_add(r, a, a); }
static inline int f2_is_zero(const fp2 *a) { return fp_is_zero(&a->c0) && fp_is_zero(&a->c1); }
static inline void f2_mul(fp2 *r, const fp2 *a, const fp2 *b) {
    fp t0, t1, s0, s1, m;
    fp_mul(&t0, &a->c0, &b->c0);
    fp_mul(&t1, &a->c1, &b->c1);
    fp_add(&s0, &a->c0, &a->c1);
    fp_add(&s1, &b->c0, &b->c1);
    fp_mul(&m, &s0, &s1);
    fp_sub(&r->c0, &t0, &t1);
    fp_sub(&m, &m, &t0);
    fp_sub(&r->c1, &m, &t1);
}
static inline void f2_sqr(fp2 *r, const fp2 *a) {
    fp s, d, m;
    fp_add(&s, &a->c0, &a->c1);
    fp_sub(&d, &a->c0, &a->c1);
    fp_mul(&m, &a->c0, &a->c1);
    fp_mul(&r->c0, &s, &d);
    fp_dbl(&r->c1, &m);
}
static void f2_inv(fp2 *r, const fp2 *a) {
    fp t0, t1, n, ni;
    fp_sqr(&t0, &a->c0);
    fp_sqr(&t1, &a->c1);
    fp_add(&n, &t0, &t1);
    fp_inv(&ni, &n);
    fp_mul(&r->c0, &a->c0, &ni);
    fp_mul(&t0, &a->c1, &ni);
    fp_neg(&r->c1, &t0);
}

/* ------------------------------------------------------------------ generic Jacobian formulas
 * The same a=0 formulas as circuits/curve.py, written once as a macro over the field ops so G1
 * and G2 cannot drift apart. */

#define DEFINE_CURVE(PFX, F, ADD, SUB, DBL, MUL, SQR, ISZERO, ONE)                                   \
    typedef struct { F x, y, z; } PFX##_jac;                                                         \
    typedef struct { F x, y; } PFX##_aff;                                                            \
    static inline int PFX##_is_inf(const PFX##_jac *p) { return ISZERO(&p->z); }                    \
    static void PFX##_double(PFX##_jac *r, const PFX##_jac *p) {                                     \
        if (ISZERO(&p->z) || ISZERO(&p->y)) { memset(r, 0, sizeof *r); return; }                     \
        F A, B, C, D, E, X3, Y3, Z3, t;                                                              \
        SQR(&A, &p->x); SQR(&B, &p->y); SQR(&C, &B);                                                 \
        ADD(&t, &p->x, &B); SQR(&t, &t); SUB(&t, &t, &A); SUB(&t, &t, &C); DBL(&D, &t);              \
        DBL(&E, &A); ADD(&E, &E, &A);                                                                \
        SQR(&X3, &E); DBL(&t, &D); SUB(&X3, &X3, &t);                                                \
        SUB(&t, &D, &X3); MUL(&Y3, &E, &t); DBL(&C, &C); DBL(&C, &C); DBL(&C, &C); SUB(&Y3, &Y3, &C); \
        MUL(&Z3, &p->y, &p->z); DBL(&Z3, &Z3);                                                       \
        r->x = X3; r->y = Y3; r->z = Z3;                                                             \
    }                                                                                                \
    static void PFX##_add_aff(PFX##_jac *r, const PFX##_jac *p, const PFX##_aff *q) {                \
        if (ISZERO(&p->z)) { r->x = q->x; r->y = q->y; r->z = ONE; return; }                         \
        F Z1Z1, U2, S2, H, HH, I, J, rr, V, X3, Y3, Z3, t;                                           \
        SQR(&Z1Z1, &p->z);                                                                           \
        MUL(&U2, &q->x, &Z1Z1);                                                                      \
        MUL(&t, &p->z, &Z1Z1); MUL(&S2, &q->y, &t);                                                  \
        SUB(&H, &U2, &p->x); SUB(&rr, &S2, &p->y);                                                   \
        if (ISZERO(&H)) {                                                                            \
            if (ISZERO(&rr)) { PFX##_double(r, p); } else { memset(r, 0, sizeof *r); }               \
            return;                                                                                  \
        }                                                                                            \
        SQR(&HH, &H); DBL(&I, &HH); DBL(&I, &I); MUL(&J, &H, &I); DBL(&rr, &rr); MUL(&V, &p->x, &I); \
        SQR(&X3, &rr); SUB(&X3, &X3, &J); DBL(&t, &V); SUB(&X3, &X3, &t);                            \
        SUB(&t, &V, &X3); MUL(&Y3, &rr, &t); MUL(&t, &p->y, &J); DBL(&t, &t); SUB(&Y3, &Y3, &t);     \
        ADD(&Z3, &p->z, &H); SQR(&Z3, &Z3); SUB(&Z3, &Z3, &Z1Z1); SUB(&Z3, &Z3, &HH);                \
        r->x = X3; r->y = Y3; r->z = Z3;                                                             \
    }                                                                                                \
    static void PFX##_add(PFX##_jac *r, const PFX##_jac *p, const PFX##_jac *q) {                    \
        if (ISZERO(&p->z)) { *r = *q; return; }                                                      \
        if (ISZERO(&q->z)) { *r = *p; return; }                                                      \
        F Z1Z1, Z2Z2, U1, U2, S1, S2, H, I, J, rr, V, X3, Y3, Z3, t;                                 \
        SQR(&Z1Z1, &p->z); SQR(&Z2Z2, &q->z);                                                        \
        MUL(&U1, &p->x, &Z2Z2); MUL(&U2, &q->x, &Z1Z1);                                              \
        MUL(&t, &q->z, &Z2Z2); MUL(&S1, &p->y, &t);                                                  \
        MUL(&t, &p->z, &Z1Z1); MUL(&S2, &q->y, &t);                                                  \
        SUB(&H, &U2, &U1); SUB(&rr, &S2, &S1);                                                       \
        if (ISZERO(&H)) {                                                                            \
            if (ISZERO(&rr)) { PFX##_double(r, p); } else { memset(r, 0, sizeof *r); }               \
            return;                                                                                  \
        }                                                                                            \
        DBL(&I, &H); SQR(&I, &I); MUL(&J, &H, &I); DBL(&rr, &rr); MUL(&V, &U1, &I);                  \
        SQR(&X3, &rr); SUB(&X3, &X3, &J); DBL(&t, &V); SUB(&X3, &X3, &t);                            \
        SUB(&t, &V, &X3); MUL(&Y3, &rr, &t); MUL(&t, &S1, &J); DBL(&t, &t); SUB(&Y3, &Y3, &t);       \
        ADD(&Z3, &p->z, &q->z); SQR(&Z3, &Z3); SUB(&Z3, &Z3, &Z1Z1); SUB(&Z3, &Z3, &Z2Z2);           \
        MUL(&Z3, &Z3, &H);                                                                           \
        r->x = X3; r->y = Y3; r->z = Z3;                                                             \
    }

static const fp2 F2_ONE_INIT = {{{0xd35d438dc58f0d9dULL, 0x0a78eb28f5c70b3dULL, 0x666ea36f7879462cULL, 0x0e0a77c19a07df2fULL}}, {{0, 0, 0, 0}}};

DEFINE_CURVE(g1, fp, fp_add, fp_sub, fp_dbl, fp_mul, fp_sqr, fp_is_zero, FPONE_)
DEFINE_CURVE(g2, fp2, f2_add, f2_sub, f2_dbl, f2_mul, f2_sqr, f2_is_zero, F2_ONE_INIT)

/* ------------------------------------------------------------------ scalar field Fr and the QAP step
 * Same CIOS multiplication with r's constants; used for the prover's NTTs. */

static const uint64_t RM[4] = {0x43e1f593f0000001ULL, 0x2833e84879b97091ULL, 0xb85045b68181585dULL, 0x30644e72e131a029ULL};
static const uint64_t RINV = 0xc2e1f593efffffffULL;
static const uint64_t R_R2[4] = {0x1bb8e645ae216da7ULL, 0x53fe3ab1e35c59e3ULL, 0x8c49833d53bb8085ULL, 0x0216d0b17f4e44a5ULL};

typedef struct { uint64_t v[4]; } fr;

static inline int fr_geq(const uint64_t t[4]) {
    for (int i = 3; i >= 0; i--) {
        if (t[i] > RM[i]) return 1;
        if (t[i] < RM[i]) return 0;
    }
    return 1;
}
static inline void fr_subm(uint64_t t[4]) {
    u128 bw = 0;
    for (int i = 0; i < 4; i++) { u128 d = (u128)t[i] - RM[i] - bw; t[i] = (uint64_t)d; bw = (d >> 64) & 1; }
}
#if ZK_HAVE_ASM_ADDSUB
static inline __attribute__((always_inline)) void fr_add(fr *r, const fr *a, const fr *b) { modadd_asm(r->v, a->v, b->v, RM); }
static inline __attribute__((always_inline)) void fr_sub(fr *r, const fr *a, const fr *b) { modsub_asm(r->v, a->v, b->v, RM); }
#else
static inline __attribute__((always_inline)) void fr_add(fr *r, const fr *a, const fr *b) { ZK_MODADD(r->v, a->v, b->v, RM); }
static inline __attribute__((always_inline)) void fr_sub(fr *r, const fr *a, const fr *b) { ZK_MODSUB(r->v, a->v, b->v, RM); }
#endif
static inline void fr_mul_portable(fr *r, const fr *a, const fr *b) {
    uint64_t t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u128 c = 0;
        for (int j = 0; j < 4; j++) { c += (u128)a->v[j] * b->v[i] + t[j]; t[j] = (uint64_t)c; c >>= 64; }
        c += t[4]; t[4] = (uint64_t)c; t[5] = (uint64_t)(c >> 64);
        uint64_t m = t[0] * RINV;
        c = ((u128)m * RM[0] + t[0]) >> 64;
        for (int j = 1; j < 4; j++) { c += (u128)m * RM[j] + t[j]; t[j - 1] = (uint64_t)c; c >>= 64; }
        c += t[4]; t[3] = (uint64_t)c; t[4] = t[5] + (uint64_t)(c >> 64);
    }
    if (t[4] || fr_geq(t)) fr_subm(t);
    memcpy(r->v, t, 4 * sizeof(uint64_t));
}
static inline __attribute__((always_inline)) void fr_mul(fr *r, const fr *a, const fr *b) {
#if ZK_HAVE_MULX
    if (fp_use_mulx) { mont_mul_mulx(r->v, a->v, b->v, RM, RINV); return; }
#endif
    fr_mul_portable(r, a, b);
}
static inline void fr_to_mont(fr *r, const uint8_t *b) {
    fr x, r2; memcpy(x.v, b, 32); memcpy(r2.v, R_R2, 32); fr_mul(r, &x, &r2);
}
static inline void fr_from_mont(uint8_t *b, const fr *a) {
    fr one = {{1, 0, 0, 0}}, x; fr_mul(&x, a, &one); memcpy(b, x.v, 32);
}

/* ---- parallel loops: fn(ctx, lo, hi) over [0, n) split into nt contiguous ranges, one per thread
 * (the caller's thread takes the first; a thread that cannot be created runs its range inline). */
typedef void (*range_fn)(void *ctx, size_t lo, size_t hi);
typedef struct { range_fn fn; void *ctx; size_t lo, hi; } range_job_t;
static void *range_run(void *arg) { range_job_t *j = arg; j->fn(j->ctx, j->lo, j->hi); return NULL; }
/* Below par_min items a transform runs on one thread (a thread costs more than it saves); tests
 * lower it (set_par_min) so that the split paths run on small inputs too. */
static size_t par_min = 1024;
static void par_range(int nt, size_t n, range_fn fn, void *ctx) {
    if (nt > 64) nt = 64;
    if (nt < 1) nt = 1;
    if ((size_t)nt > n) nt = (int)(n ? n : 1);
    range_job_t jobs[64];
    pthread_t th[64];
    int ok[64];
    for (int t = 0; t < nt; t++) {
        jobs[t] = (range_job_t){fn, ctx, n * (size_t)t / (size_t)nt, n * (size_t)(t + 1) / (size_t)nt};
        ok[t] = t > 0 && pthread_create(&th[t], NULL, range_run, &jobs[t]) == 0;
    }
    range_run(&jobs[0]);
    for (int t = 1; t < nt; t++) {
        if (ok[t]) pthread_join(th[t], NULL); else range_run(&jobs[t]);
    }
}

static const fr FR_ONE = {{0xac96341c4ffffffbULL, 0x36fc76959f60cd29ULL, 0x666ea36f7879462eULL, 0x0e0a77c19a07df2fULL}};

/* x^e (Montgomery form in and out), square-and-multiply */
static void fr_pow(fr *r, const fr *x, uint64_t e) {
    fr acc = FR_ONE, base = *x;
    for (; e; e >>= 1) {
        if (e & 1) fr_mul(&acc, &acc, &base);
        fr_mul(&base, &base, &base);
    }
    *r = acc;
}

/* ---- radix-2 NTT over Fr, parallel within one transform. Decimation in time after a bit-reversal
 * permutation: the first log_n - k stages work on 2^k independent blocks (one per thread, k =
 * log2 of the thread count), the last k stages split each stage's n/2 butterflies into ranges.
 * Twiddles come from one table W[j] = w^j (j < n/2) of the full size; stage s reads it with stride
 * n / 2^s. Only forward transforms are computed: the inverse is the forward transform followed by
 * the index reversal k <-> n - k (and 1/n), which the QAP step folds into its coset scaling. */
typedef struct { fr *a; const fr *W; int log_n; int s_lo, s_hi; size_t block; const fr *w; } nttctx_t;

static inline size_t bitrev_idx(size_t i, int log_n) {
    uint64_t x = (uint64_t)i;
    x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
    x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
    x = ((x >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((x & 0x0F0F0F0F0F0F0F0FULL) << 4);
    x = __builtin_bswap64(x);
    return (size_t)(x >> (64 - log_n));
}
static void ntt_bitrev(void *c, size_t lo, size_t hi) {
    nttctx_t *x = c;
    for (size_t i = lo; i < hi; i++) {
        size_t j = bitrev_idx(i, x->log_n);
        if (i < j) { fr t = x->a[i]; x->a[i] = x->a[j]; x->a[j] = t; }
    }
}
static inline void ntt_bfly(fr *a, const fr *W, size_t i0, size_t m, size_t j, int shift) {
    fr u = a[i0], v;
    fr_mul(&v, &a[i0 + m], &W[j << shift]);
    fr_add(&a[i0], &u, &v);
    fr_sub(&a[i0 + m], &u, &v);
}
/* stages [s_lo, s_hi) on whole blocks [lo, hi) of size `block` */
static void ntt_blocks(void *c, size_t lo, size_t hi) {
    nttctx_t *x = c;
    for (size_t b = lo; b < hi; b++) {
        fr *a = x->a + b * x->block;
        for (int s = x->s_lo; s < x->s_hi; s++) {
            size_t m = (size_t)1 << s;
            int shift = x->log_n - 1 - s;
            for (size_t start = 0; start < x->block; start += 2 * m)
                for (size_t j = 0; j < m; j++) ntt_bfly(a, x->W, start + j, m, j, shift);
        }
    }
}
/* butterflies [lo, hi) of stage s_lo (half-size m = 2^s_lo) */
static void ntt_stage(void *c, size_t lo, size_t hi) {
    nttctx_t *x = c;
    int s = x->s_lo, shift = x->log_n - 1 - s;
    size_t m = (size_t)1 << s;
    for (size_t k = lo; k < hi; k++) {
        size_t j = k & (m - 1);
        ntt_bfly(x->a, x->W, ((k >> s) << (s + 1)) + j, m, j, shift);
    }
}
/* W[j] = w^j for j in [lo, hi) */
static void ntt_twiddles(void *c, size_t lo, size_t hi) {
    nttctx_t *x = c;
    fr *W = (fr *)x->W;
    if (lo >= hi) return;
    fr_pow(&W[lo], x->w, (uint64_t)lo);
    for (size_t j = lo + 1; j < hi; j++) fr_mul(&W[j], &W[j - 1], x->w);
}
/* W must hold n/2 entries (at least 1); w is a primitive 2^log_n-th root (Montgomery form). */
static void fr_ntt_twiddles(fr *W, int log_n, const fr *w, int nt) {
    nttctx_t x = {NULL, W, log_n, 0, 0, 0, w};
    size_t half = ((size_t)1 << log_n) / 2;
    if (!half) { W[0] = FR_ONE; return; }
    par_range(nt, half, ntt_twiddles, &x);
}
static void fr_ntt_par(fr *a, int log_n, const fr *W, int nt) {
    size_t n = (size_t)1 << log_n;
    if (nt < 1 || n < par_min) nt = 1;
    int k = 0;
    while ((2 << k) <= nt && k + 1 < log_n) k++; /* 2^k blocks of size >= 2 */
    nttctx_t x = {a, W, log_n, 0, log_n - k, n >> k, NULL};
    par_range(nt, n, ntt_bitrev, &x);
    par_range(1 << k, (size_t)1 << k, ntt_blocks, &x);
    for (int s = log_n - k; s < log_n; s++) {
        x.s_lo = s;
        par_range(nt, n / 2, ntt_stage, &x);
    }
}

/* ---- the QAP step: (A*B - C) on the odd points of the doubled domain, from A and B evaluated on
 * the domain. C = A*B pointwise; each of A, B, C goes iNTT -> scale coefficient k by g^k -> NTT,
 * every step split over the threads. Consts are standard-form little-endian: w (n-th root), w^-1
 * (unused: the inverse transform is the forward one reversed), n^-1, g (2n-th root). Two entry
 * points share it: qap_h (A and B evaluations given) and qap_h_coeffs (evaluated here from the
 * .zkey's coefficient section and the witness). */

typedef struct { fr *X, *A, *B, *C; uint8_t *out; int log_n; fr ninv, g, ginv; } qapctx_t;

/* X = forward NTT of the evaluations; coefficient k is X[(n - k) mod n] / n: swap k <-> n - k and
 * scale by g^k / n in one pass over the pairs (k, n - k), k in [lo, hi) within [0, n/2]. */
static void qap_scale(void *c, size_t lo, size_t hi) {
    qapctx_t *q = c;
    size_t n = (size_t)1 << q->log_n;
    fr pk, qk, gn;
    fr_pow(&pk, &q->g, (uint64_t)lo); fr_mul(&pk, &pk, &q->ninv);          /* g^k / n */
    fr_pow(&qk, &q->ginv, (uint64_t)lo); fr_pow(&gn, &q->g, (uint64_t)n);
    fr_mul(&qk, &qk, &gn); fr_mul(&qk, &qk, &q->ninv);                     /* g^(n - k) / n */
    for (size_t k = lo; k < hi; k++) {
        if (k == 0 || 2 * k == n) fr_mul(&q->X[k], &q->X[k], &pk);
        else {
            fr a = q->X[k];
            fr_mul(&q->X[k], &q->X[n - k], &pk);
            fr_mul(&q->X[n - k], &a, &qk);
        }
        fr_mul(&pk, &pk, &q->g); fr_mul(&qk, &qk, &q->ginv);
    }
}
static void qap_pointwise(void *c, size_t lo, size_t hi) {
    qapctx_t *q = c;
    for (size_t i = lo; i < hi; i++) fr_mul(&q->C[i], &q->A[i], &q->B[i]);
}
/* out (may alias C) = A*B - C, standard form LE */
static void qap_final(void *c, size_t lo, size_t hi) {
    qapctx_t *q = c;
    for (size_t i = lo; i < hi; i++) {
        fr t; fr_mul(&t, &q->A[i], &q->B[i]); fr_sub(&t, &t, &q->C[i]); fr_from_mont(q->out + 32 * i, &t);
    }
}

/* A, B (n each, Montgomery form) -> out (32n bytes, standard form LE; may be C's own memory); C is
 * scratch (n). Runs without the GIL. Overwrites A, B and C. Returns 0 when the twiddle table cannot
 * be allocated. */
static int qap_h_core(fr *A, fr *B, fr *C, int log_n, const uint8_t *consts, int nthreads, uint8_t *out) {
    size_t n = (size_t)1 << log_n;
    if (n < par_min) nthreads = 1;
    fr *W = malloc((n / 2 + 1) * sizeof(fr));
    if (!W) return 0;
    fr w;
    qapctx_t q = {NULL, A, B, C, out, log_n, {{0}}, {{0}}, {{0}}};
    fr_to_mont(&w, consts); fr_to_mont(&q.ninv, consts + 64); fr_to_mont(&q.g, consts + 96);
    fr_pow(&q.ginv, &q.g, 2 * (uint64_t)n - 1); /* g has order 2n */
    fr_ntt_twiddles(W, log_n, &w, nthreads);
    par_range(nthreads, n, qap_pointwise, &q);
    fr *polys[3] = {A, B, C};
    for (int p = 0; p < 3; p++) {
        q.X = polys[p];
        fr_ntt_par(q.X, log_n, W, nthreads);
        par_range(nthreads, n / 2 + 1, qap_scale, &q);
        fr_ntt_par(q.X, log_n, W, nthreads);
    }
    par_range(nthreads, n, qap_final, &q);
    free(W);
    return 1;
}

/* ntt(values, log_n, w, threads): the forward transform of 2^log_n standard-form LE scalars (< r)
 * at the powers of w (standard form), for tests against circuits/ntt.py. */
static PyObject *py_ntt(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer vb, wb;
    int log_n, nthreads = 1;
    if (!PyArg_ParseTuple(args, "y*iy*|i", &vb, &log_n, &wb, &nthreads)) return NULL;
    PyObject *res = NULL;
    if (log_n < 0 || log_n > 28 || (size_t)vb.len != 32 * ((size_t)1 << log_n) || wb.len != 32) {
        PyErr_SetString(PyExc_ValueError, "ntt: bad buffer sizes");
        goto out;
    }
    size_t n = (size_t)1 << log_n;
    fr *a = malloc(n * sizeof(fr)), *W = malloc((n / 2 + 1) * sizeof(fr));
    if (!a || !W) { free(a); free(W); PyErr_NoMemory(); goto out; }
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(32 * n));
    if (res) {
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
        Py_BEGIN_ALLOW_THREADS
        fr w;
        fr_to_mont(&w, wb.buf);
        for (size_t i = 0; i < n; i++) fr_to_mont(&a[i], (const uint8_t *)vb.buf + 32 * i);
        fr_ntt_twiddles(W, log_n, &w, (n < par_min) ? 1 : nthreads);
        if (log_n) fr_ntt_par(a, log_n, W, nthreads);
        for (size_t i = 0; i < n; i++) fr_from_mont(o + 32 * i, &a[i]);
        Py_END_ALLOW_THREADS
    }
    free(a); free(W);
out:
    PyBuffer_Release(&vb); PyBuffer_Release(&wb);
    return res;
}

/* Allocate A and B (n each) or set MemoryError; returns 0 on failure. C, the third vector, is the
 * result's own memory (a bytes object of 32n bytes, written in place at the end), so the step holds
 * three n-vectors and a half-size twiddle table, not four. */
static int qap_alloc(fr **A, fr **B, size_t n) {
    *A = malloc(n * sizeof(fr)); *B = malloc(n * sizeof(fr));
    if (*A && *B) return 1;
    free(*A); free(*B);
    PyErr_NoMemory();
    return 0;
}

typedef struct { fr *A, *B; const uint8_t *a, *b; } tomontctx_t;
static void qap_to_mont(void *c, size_t lo, size_t hi) {
    tomontctx_t *t = c;
    for (size_t i = lo; i < hi; i++) { fr_to_mont(&t->A[i], t->a + 32 * i); fr_to_mont(&t->B[i], t->b + 32 * i); }
}

static PyObject *py_qap_h(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer ab, bb, cb;
    int log_n, nthreads = 1;
    if (!PyArg_ParseTuple(args, "y*y*iy*|i", &ab, &bb, &log_n, &cb, &nthreads)) return NULL;
    PyObject *res = NULL;
    fr *A, *B;
    if (log_n < 1 || log_n > 28 || (size_t)ab.len != 32 * ((size_t)1 << log_n) || (size_t)bb.len != 32 * ((size_t)1 << log_n) || cb.len != 128) {
        PyErr_SetString(PyExc_ValueError, "qap_h: bad buffer sizes");
        goto out;
    }
    size_t n = (size_t)1 << log_n;
    if (!qap_alloc(&A, &B, n)) goto out;
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(32 * n));
    if (res) {
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
        int ok;
        tomontctx_t tm = {A, B, ab.buf, bb.buf};
        Py_BEGIN_ALLOW_THREADS
        par_range(n < par_min ? 1 : nthreads, n, qap_to_mont, &tm);
        ok = qap_h_core(A, B, (fr *)o, log_n, cb.buf, nthreads, o);
        Py_END_ALLOW_THREADS
        if (!ok) { Py_CLEAR(res); PyErr_NoMemory(); }
    }
    free(A); free(B);
out:
    PyBuffer_Release(&ab); PyBuffer_Release(&bb); PyBuffer_Release(&cb);
    return res;
}

/* One matrix's evaluations from the .zkey coefficient entries (44 bytes each: u32 matrix, u32 row,
 * u32 signal, value = c*R^2 mod r, canonical LE): out[row] += mont(value * w[signal]) = c*w in
 * Montgomery form. Each job scans every entry and takes those of its matrix; the A job also flags
 * unknown matrix ids, so the two jobs together check every entry, and the smaller of their first
 * error indices is the first bad entry of the section. */
#define COEF_SIZE 44
enum { COEF_OK = 0, COEF_MATRIX, COEF_ROW, COEF_SIGNAL, COEF_VALUE };

typedef struct {
    const uint8_t *entries; size_t n_entries;
    const uint8_t *wit; size_t n_wit;  /* canonical standard-form LE scalars, checked by the caller */
    size_t n; uint32_t matrix; fr *out;
    size_t err_index; int err; uint32_t err_value;
} coefjob_t;

static void *coef_eval(void *arg) {
    coefjob_t *j = arg;
    memset(j->out, 0, j->n * sizeof(fr));
    j->err = COEF_OK;
    for (size_t i = 0; i < j->n_entries; i++) {
        const uint8_t *e = j->entries + COEF_SIZE * i;
        uint32_t m, row, sig;
        memcpy(&m, e, 4); memcpy(&row, e + 4, 4); memcpy(&sig, e + 8, 4);
        if (m != j->matrix) {
            if (m > 1 && j->matrix == 0) { j->err = COEF_MATRIX; j->err_value = m; j->err_index = i; return NULL; }
            continue;
        }
        fr v, x, t;
        memcpy(v.v, e + 12, 32);
        if (fr_geq(v.v)) { j->err = COEF_VALUE; j->err_index = i; return NULL; }
        if (row >= j->n) { j->err = COEF_ROW; j->err_value = row; j->err_index = i; return NULL; }
        if (sig >= j->n_wit) { j->err = COEF_SIGNAL; j->err_value = sig; j->err_index = i; return NULL; }
        memcpy(x.v, j->wit + 32 * (size_t)sig, 32);
        fr_mul(&t, &v, &x);
        fr_add(&j->out[row], &j->out[row], &t);
    }
    return NULL;
}

/* check_coeffs(entries, n_vars, domain_size) -> None, or (index, code) of the first bad entry (code 1:
 * matrix id > 1, 2: row >= domain_size, 3: signal >= n_vars, 4: value >= r): the load-time check of a
 * mapped .zkey's coefficient section, one pass without the GIL (qap_h_coeffs checks again as it reads). */
static PyObject *py_check_coeffs(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer eb;
    unsigned long long n_vars, domain;
    if (!PyArg_ParseTuple(args, "y*KK", &eb, &n_vars, &domain)) return NULL;
    if (eb.len % COEF_SIZE) {
        PyBuffer_Release(&eb);
        PyErr_Format(PyExc_ValueError, "check_coeffs: %zd bytes are not whole %d-byte entries", eb.len, COEF_SIZE);
        return NULL;
    }
    size_t n_entries = (size_t)eb.len / COEF_SIZE, bad = n_entries;
    int code = COEF_OK;
    const uint8_t *base = eb.buf;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n_entries; i++) {
        const uint8_t *e = base + COEF_SIZE * i;
        uint32_t m, row, sig;
        uint64_t v[4];
        memcpy(&m, e, 4); memcpy(&row, e + 4, 4); memcpy(&sig, e + 8, 4); memcpy(v, e + 12, 32);
        code = m > 1 ? COEF_MATRIX : row >= domain ? COEF_ROW : sig >= n_vars ? COEF_SIGNAL : fr_geq(v) ? COEF_VALUE : COEF_OK;
        if (code != COEF_OK) { bad = i; break; }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&eb);
    if (code == COEF_OK) Py_RETURN_NONE;
    return Py_BuildValue("(ni)", (Py_ssize_t)bad, code);
}

/* first_noncanonical(scalars_le) -> index of the first 32-byte value >= r, or -1 (a packed witness's check) */
static PyObject *py_first_noncanonical(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "y*", &b)) return NULL;
    if (b.len % 32) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "first_noncanonical: not whole 32-byte values");
        return NULL;
    }
    Py_ssize_t found = -1, n = b.len / 32;
    const uint8_t *p = b.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t x[4];
        memcpy(x, p + 32 * i, 32);
        if (fr_geq(x)) { found = i; break; }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    return PyLong_FromSsize_t(found);
}

static PyObject *py_qap_h_coeffs(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer eb, wb, cb;
    int log_n, nthreads = 1;
    if (!PyArg_ParseTuple(args, "y*y*iy*|i", &eb, &wb, &log_n, &cb, &nthreads)) return NULL;
    PyObject *res = NULL;
    fr *A, *B;
    int ok = 1;
    if (log_n < 1 || log_n > 28 || cb.len != 128) {
        PyErr_SetString(PyExc_ValueError, "qap_h_coeffs: bad log_n or consts");
        goto out;
    }
    if (eb.len % COEF_SIZE || wb.len % 32) {
        PyErr_Format(PyExc_ValueError, "qap_h_coeffs: %zd coefficient bytes / %zd witness bytes are not whole entries (%d / 32 bytes)",
                     eb.len, wb.len, COEF_SIZE);
        goto out;
    }
    size_t n = (size_t)1 << log_n, n_wit = (size_t)wb.len / 32;
    const uint8_t *wit = wb.buf;
    for (size_t i = 0; i < n_wit; i++) {
        uint64_t x[4]; memcpy(x, wit + 32 * i, 32);
        if (fr_geq(x)) { PyErr_Format(PyExc_ValueError, "qap_h_coeffs: witness value %zu is not a canonical field element (>= r)", i); goto out; }
    }
    if (!qap_alloc(&A, &B, n)) goto out;
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(32 * n));
    if (!res) goto done;
    coefjob_t jobs[2];
    for (int k = 0; k < 2; k++) {
        jobs[k] = (coefjob_t){eb.buf, (size_t)eb.len / COEF_SIZE, wit, n_wit, n, (uint32_t)k, k ? B : A, 0, COEF_OK, 0};
    }
    coefjob_t *bad = NULL;
    Py_BEGIN_ALLOW_THREADS
    pthread_t th;
    int spawned = nthreads > 1 && pthread_create(&th, NULL, coef_eval, &jobs[1]) == 0;
    coef_eval(&jobs[0]);
    if (spawned) pthread_join(th, NULL); else coef_eval(&jobs[1]);
    for (int k = 0; k < 2; k++)
        if (jobs[k].err && (!bad || jobs[k].err_index < bad->err_index)) bad = &jobs[k];
    if (!bad) {
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(res);
        ok = qap_h_core(A, B, (fr *)o, log_n, cb.buf, nthreads, o);
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        size_t i = bad->err_index;
        unsigned long v = bad->err_value;
        switch (bad->err) {
        case COEF_MATRIX: PyErr_Format(PyExc_ValueError, "coefficient %zu: matrix id %lu (only 0 = A and 1 = B are stored)", i, v); break;
        case COEF_ROW: PyErr_Format(PyExc_ValueError, "coefficient %zu: row %lu outside the domain of size %zu", i, v, n); break;
        case COEF_SIGNAL: PyErr_Format(PyExc_ValueError, "coefficient %zu: signal %lu out of range [0, %zu)", i, v, n_wit); break;
        default: PyErr_Format(PyExc_ValueError, "coefficient %zu is not a canonical field element (>= r)", i); break;
        }
        Py_CLEAR(res);
    } else if (!ok) {
        Py_CLEAR(res);
        PyErr_NoMemory();
    }
done:
    free(A); free(B);
out:
    PyBuffer_Release(&eb); PyBuffer_Release(&wb); PyBuffer_Release(&cb);
    return res;
}

/* ------------------------------------------------------------------ Pippenger
 * Three independent switches (the `flags` argument), so each can be measured against the plain
 * path it replaces and tested for equality with it:
 *   plain (0)         254-bit signed digits, buckets in Jacobian, one mixed addition per point;
 *   MSM_GLV           k*P = k1*P + k2*phi(P) with |k1|, |k2| < 2^127: twice the points, half the
 *                     windows, and since the bucket reduction is per window, half of that too;
 *   MSM_BATCH_AFFINE  buckets in affine coordinates: a bucket addition costs 5M+1S plus a share
 *                     of one inversion per batch (Montgomery's trick), against 7M+4S mixed. */

#define SCALAR_BITS 254
#define MSM_GLV 1
#define MSM_BATCH_AFFINE 2
/* Additions sharing one inversion: half the bucket count (so a point rarely finds its bucket taken),
 * at most 512 (measured: 256..2048 are within noise at 2^16; the inversion is then <1M per add). */
#define MSM_MAX_BATCH 512
#define MSM_MIN_BATCH 16    /* below this an inversion (~350M) costs more than Jacobian additions */

/* GLV constants, from scripts/glv_constants.py (which derives them and checks them on the
 * generators): lambda = 0xb3c4d79d41a917585bfc41088d8daaa78b17ea66b99c90dd, a root of
 * x^2 + x + 1 mod r; phi(x, y) = (beta*x, y) is [lambda] on G1 with beta = GLV_BETA_G1 and on the
 * G2 twist with beta' = GLV_BETA_G2 (the other cube root of one: the twist pairs them the other
 * way round). Basis v1 = (a1, b1), v2 = (a2, b2) of {(a, b): a + b*lambda = 0 mod r}. */
static const fp GLV_BETA_G1 = {{0x71930c11d782e155ULL, 0xa6bb947cffbe3323ULL, 0xaa303344d4741444ULL, 0x2c3b3f0d26594943ULL}};  /* Montgomery form */
static const fp GLV_BETA_G2 = {{0x3350c88e13e80b9cULL, 0x7dce557cdb5e56b9ULL, 0x6001b4b8b615564aULL, 0x2682e617020217e0ULL}};
static const uint64_t GLV_M1[4] = {0xd91d232ec7e0b3d7ULL, 0x0000000000000002ULL, 0x0000000000000000ULL, 0x0000000000000000ULL};  /* round(2^256 * b2 / r) */
static const uint64_t GLV_M2[4] = {0x7a7bd9d4391eb18eULL, 0x4ccef014a773d2cfULL, 0x0000000000000002ULL, 0x0000000000000000ULL};  /* round(-2^256 * b1 / r) */
static const uint64_t GLV_A1[2] = {0x89d3256894d213e3ULL, 0x0000000000000000ULL}; static const int GLV_A1_NEG = 0;
static const uint64_t GLV_B1[2] = {0x8211bbeb7d4f1128ULL, 0x6f4d8248eeb859fcULL}; static const int GLV_B1_NEG = 1;
static const uint64_t GLV_A2[2] = {0x0be4e1541221250bULL, 0x6f4d8248eeb859fdULL}; static const int GLV_A2_NEG = 0;
static const uint64_t GLV_B2[2] = {0x89d3256894d213e3ULL, 0x0000000000000000ULL}; static const int GLV_B2_NEG = 0;
#define GLV_BITS 127  /* |k1|, |k2| < |a1| + |a2| < 2^127 (Babai rounding error below one per coordinate) */

/* out[0..na+nb) = a * b (schoolbook) */
static void mul_limbs(uint64_t *out, const uint64_t *a, int na, const uint64_t *b, int nb) {
    memset(out, 0, (size_t)(na + nb) * sizeof(uint64_t));
    for (int i = 0; i < na; i++) {
        u128 c = 0;
        for (int j = 0; j < nb; j++) {
            c += (u128)a[i] * b[j] + out[i + j];
            out[i + j] = (uint64_t)c;
            c >>= 64;
        }
        out[i + nb] = (uint64_t)c;
    }
}

/* acc -= c * |v| if v >= 0 else acc += c * |v|, modulo 2^256: the results are small, so two's
 * complement wrap-around is exact. */
static void glv_term(uint64_t acc[4], const uint64_t c[2], const uint64_t v[2], int v_neg) {
    uint64_t p[4];
    mul_limbs(p, c, 2, v, 2);
    u128 t = 0;
    for (int i = 0; i < 4; i++) {
        if (v_neg) { t += (u128)acc[i] + p[i]; acc[i] = (uint64_t)t; t >>= 64; }
        else { t = (u128)acc[i] - p[i] - t; acc[i] = (uint64_t)t; t = (t >> 64) & 1; }
    }
}

/* |value| (< 2^127) and its sign from a small two's complement 256-bit integer. */
static void glv_sign(const uint64_t v[4], uint64_t mag[2], int *neg) {
    *neg = (int)(v[3] >> 63);
    if (*neg) {
        u128 t = 1;
        for (int i = 0; i < 2; i++) { t += (u128)(~v[i]); mag[i] = (uint64_t)t; t >>= 64; }
    } else {
        mag[0] = v[0]; mag[1] = v[1];
    }
}

/* k = k1 + k2*lambda (mod r) for k < r: c1 = floor(k*M1 / 2^256) ~ round(k*b2/r),
 * c2 = floor(k*M2 / 2^256) ~ round(-k*b1/r); (k1, k2) = (k, 0) - c1*v1 - c2*v2. */
static void glv_split(const uint64_t k[4], uint64_t k1[2], int *neg1, uint64_t k2[2], int *neg2) {
    uint64_t t[8], c1[2], c2[2], a[4], b[4] = {0, 0, 0, 0};
    mul_limbs(t, k, 4, GLV_M1, 4); c1[0] = t[4]; c1[1] = t[5];
    mul_limbs(t, k, 4, GLV_M2, 4); c2[0] = t[4]; c2[1] = t[5];
    memcpy(a, k, sizeof a);
    glv_term(a, c1, GLV_A1, GLV_A1_NEG);
    glv_term(a, c2, GLV_A2, GLV_A2_NEG);
    glv_term(b, c1, GLV_B1, GLV_B1_NEG);
    glv_term(b, c2, GLV_B2, GLV_B2_NEG);
    glv_sign(a, k1, neg1);
    glv_sign(b, k2, neg2);
}

typedef struct {
    int g2;
    const uint8_t *points; /* packed affine points, Montgomery form (plain path: the compacted copy) */
    size_t n;
    const int32_t *digits; /* digit of point i in window w: digits[i * si + w * sw] */
    size_t si, sw;
    int c, n_windows, flags;
    int thread, n_threads;
    void *window_sums; /* g1_jac[n_windows] or g2_jac[n_windows] */
    /* GLV: slot 2k is P_k and slot 2k+1 is phi(P_k) = (beta*x, y), read from `points` (the caller's
     * list, not copied) and `betax` (beta*x of each point, half a point each); the signs of k1, k2
     * are folded into the digits. */
    const uint8_t *betax;
    /* shared digits (msm_*(..., digits, first)): the digits were made without looking at the points, so
     * inf[k] = 1 marks a point at infinity whose two slots are skipped; NULL when there is none */
    const uint8_t *inf;
    /* next window to take: threads pull windows one at a time, so on a shared machine a thread that
     * gets less CPU does fewer windows instead of holding up the MSM (a fixed split waited for it) */
    int *next_window;
} job_t;

static void load_fp(fp *r, const uint8_t *b) { memcpy(r->v, b, 32); /* little-endian host */ }
static inline int f2_eq(const fp2 *a, const fp2 *b) { return fp_eq(&a->c0, &b->c0) && fp_eq(&a->c1, &b->c1); }
static void g1_load_aff(g1_aff *q, const uint8_t *b, int neg) {
    load_fp(&q->x, b); load_fp(&q->y, b + 32);
    if (neg) fp_neg(&q->y, &q->y);
}
static void g2_load_aff(g2_aff *q, const uint8_t *b, int neg) {
    load_fp(&q->x.c0, b); load_fp(&q->x.c1, b + 32); load_fp(&q->y.c0, b + 64); load_fp(&q->y.c1, b + 96);
    if (neg) { fp_neg(&q->y.c0, &q->y.c0); fp_neg(&q->y.c1, &q->y.c1); }
}

/* Per window: fill buckets 1..half from the digits, then sum_j j*B_j by running sums (Jacobian).
 * Written once for G1 and G2, like DEFINE_CURVE. */
#define DEFINE_PIPPENGER(PFX, F, PSZ, EQ, ISZERO, ADD, SUB, DBL, MUL, SQR, BINV)                        \
    /* point of slot i, negated if neg (see job_t: GLV slots come from the caller's list and betax) */ \
    static inline void PFX##_load_slot(const job_t *jb, size_t i, int neg, PFX##_aff *q) {           \
        if (!jb->betax) { PFX##_load_aff(q, jb->points + (size_t)PSZ * i, neg); return; }           \
        PFX##_load_aff(q, jb->points + (size_t)PSZ * (i >> 1), neg);                                 \
        if (i & 1) memcpy(&q->x, jb->betax + (size_t)(PSZ / 2) * (i >> 1), PSZ / 2);                 \
    }                                                                                                \
    /* plain buckets: Jacobian, one mixed addition per point */                                      \
    static void PFX##_window_jac(const job_t *jb, int w, PFX##_jac *buckets, size_t half) {          \
        memset(buckets, 0, (half + 1) * sizeof *buckets);                                            \
        for (size_t i = 0; i < jb->n; i++) {                                                         \
            int32_t d = jb->digits[i * jb->si + (size_t)w * jb->sw];                                 \
            if (!d || (jb->inf && jb->inf[i >> 1])) continue;                                        \
            PFX##_aff q;                                                                             \
            PFX##_load_slot(jb, i, d < 0, &q);                                                       \
            if (d < 0) d = -d;                                                                       \
            PFX##_add_aff(&buckets[d], &buckets[d], &q);                                             \
        }                                                                                            \
    }                                                                                                \
    /* batch-affine buckets. A batch holds at most one pending addition per bucket (stamp[b] == cur \
     * marks b as taken); a point whose bucket is taken waits in a ring buffer and is retried after \
     * the next inversion; if the buffer is full, or too few additions remain to pay for an         \
     * inversion, the point goes into a Jacobian overflow bucket instead, added in at reduction. */ \
    typedef struct {                                                                                 \
        size_t half; int cap;                                                                        \
        PFX##_aff *bk; uint8_t *occ;          /* affine buckets; occ[b]: bucket b is not empty */    \
        uint32_t *stamp; uint32_t cur;                                                               \
        PFX##_jac *jb; int jac_used;          /* overflow buckets */                                 \
        int cnt; uint32_t *eb; PFX##_aff *eq; F *den; fp *nrm, *fpre; uint8_t *kind; /* the batch */ \
        uint32_t *qi; int32_t *qd; size_t qh, qn, qcap; /* deferred (point index, digit) */          \
    } PFX##_bstate;                                                                                  \
    /* Puts slot i (digit d) where it goes, loading it straight into its place (an empty bucket, or the \
     * batch's next entry: no copy of a freshly written point, see the note on store forwarding at   \
     * the top). Returns 0 when its bucket already has an addition pending in this batch.           */ \
    static inline int PFX##_place(PFX##_bstate *s, const job_t *jb, size_t i, int32_t d) {           \
        uint32_t b = (uint32_t)(d < 0 ? -d : d);                                                     \
        if (!s->occ[b]) { PFX##_load_slot(jb, i, d < 0, &s->bk[b]); s->occ[b] = 1; return 1; }      \
        if (s->stamp[b] == s->cur) return 0;                                                         \
        s->stamp[b] = s->cur;                                                                        \
        s->eb[s->cnt] = b; PFX##_load_slot(jb, i, d < 0, &s->eq[s->cnt]); s->cnt++;                  \
        return 1;                                                                                    \
    }                                                                                                \
    /* bucket[eb[e]] += eq[e], its inverted denominator in den[e] (kind: see flush) */              \
    static inline void PFX##_apply1(PFX##_bstate *s, int e) {                                        \
        F t, num, l, x3, y3;                                                                         \
        uint32_t b = s->eb[e];                                                                       \
        PFX##_aff *p = &s->bk[b];                                                                    \
        const PFX##_aff *q = &s->eq[e];                                                              \
        if (s->kind[e] == 2) { s->occ[b] = 0; return; }                                              \
        if (s->kind[e] == 0) SUB(&num, &q->y, &p->y);                                                \
        else { SQR(&num, &p->x); ADD(&l, &num, &num); ADD(&num, &l, &num); } /* tangent 3x^2 */      \
        MUL(&l, &num, &s->den[e]);                                                                   \
        SQR(&t, &l); SUB(&t, &t, &q->x);                       /* t = l^2 - x2 */                    \
        SUB(&x3, &t, &p->x);                                                                         \
        SUB(&y3, &p->x, &x3); MUL(&y3, &l, &y3);                                                     \
        SUB(&p->y, &y3, &p->y);                                                                      \
        SUB(&p->x, &t, &p->x); /* x3 again, stored in place: no copy of x3 (store forwarding) */     \
    }                                                                                                \
    /* bucket[b] += q for every batch entry, with one inversion for all denominators. */            \
    static void PFX##_flush(PFX##_bstate *s) {                                                       \
        int any = 0;                                                                                 \
        for (int e = 0; e < s->cnt; e++) {                                                           \
            const PFX##_aff *p = &s->bk[s->eb[e]], *q = &s->eq[e];                                   \
            if (!EQ(&p->x, &q->x)) { SUB(&s->den[e], &q->x, &p->x); s->kind[e] = 0; }               \
            else if (EQ(&p->y, &q->y) && !ISZERO(&p->y)) { DBL(&s->den[e], &p->y); s->kind[e] = 1; } \
            else { s->kind[e] = 2; continue; } /* q == -p: the bucket becomes empty */               \
            any = 1;                                                                                 \
        }                                                                                            \
        if (any) BINV(s->den, s->kind, s->cnt, s->nrm, s->fpre); /* den[e] <- 1/den[e] */            \
        int e = 0;                                                                                   \
        for (; e + 1 < s->cnt; e += 2) {                                                             \
            if (s->kind[e] | s->kind[e + 1]) { PFX##_apply1(s, e); PFX##_apply1(s, e + 1); continue; }   \
            /* two independent additions side by side: each is a chain of three dependent            \
             * multiplications, interleaved they overlap in the out-of-order window */               \
            PFX##_aff *p0 = &s->bk[s->eb[e]], *p1 = &s->bk[s->eb[e + 1]];                             \
            const PFX##_aff *q0 = &s->eq[e], *q1 = &s->eq[e + 1];                                    \
            F n0, n1, l0, l1, t0, t1, x0, x1;                                                        \
            SUB(&n0, &q0->y, &p0->y); SUB(&n1, &q1->y, &p1->y);                                      \
            MUL(&l0, &n0, &s->den[e]); MUL(&l1, &n1, &s->den[e + 1]);                                \
            SQR(&t0, &l0); SQR(&t1, &l1);                                                            \
            SUB(&t0, &t0, &q0->x); SUB(&t1, &t1, &q1->x);                                            \
            SUB(&x0, &t0, &p0->x); SUB(&x1, &t1, &p1->x);                                            \
            SUB(&n0, &p0->x, &x0); SUB(&n1, &p1->x, &x1);                                            \
            MUL(&n0, &l0, &n0); MUL(&n1, &l1, &n1);                                                  \
            SUB(&p0->y, &n0, &p0->y); SUB(&p1->y, &n1, &p1->y);                                      \
            SUB(&p0->x, &t0, &p0->x); SUB(&p1->x, &t1, &p1->x);                                      \
        }                                                                                            \
        for (; e < s->cnt; e++) PFX##_apply1(s, e);                                                  \
        s->cnt = 0; s->cur++;                                                                        \
    }                                                                                                \
    static void PFX##_overflow(PFX##_bstate *s, uint32_t b, const PFX##_aff *q) {                    \
        PFX##_add_aff(&s->jb[b], &s->jb[b], q); s->jac_used = 1;                                     \
    }                                                                                                \
    static void PFX##_qpop(PFX##_bstate *s, const job_t *jb, PFX##_aff *q, uint32_t *b, int32_t *d) { \
        uint32_t i = s->qi[s->qh];                                                                   \
        *d = s->qd[s->qh];                                                                           \
        s->qh = (s->qh + 1) % s->qcap; s->qn--;                                                      \
        PFX##_load_slot(jb, i, *d < 0, q);                                                           \
        *b = (uint32_t)(*d < 0 ? -*d : *d);                                                          \
    }                                                                                                \
    static void PFX##_qpush(PFX##_bstate *s, uint32_t i, int32_t d) {                                \
        size_t t = (s->qh + s->qn) % s->qcap;                                                        \
        s->qi[t] = i; s->qd[t] = d; s->qn++;                                                         \
    }                                                                                                \
    /* retry every deferred point once, in arrival order */                                         \
    static void PFX##_drain(PFX##_bstate *s, const job_t *jb) {                                      \
        for (size_t m = s->qn; m > 0; m--) {                                                         \
            uint32_t i = s->qi[s->qh]; int32_t d = s->qd[s->qh];                                     \
            s->qh = (s->qh + 1) % s->qcap; s->qn--;                                                  \
            if (!PFX##_place(s, jb, i, d)) PFX##_qpush(s, i, d);                                     \
            else if (s->cnt == s->cap) PFX##_flush(s);                                               \
        }                                                                                            \
    }                                                                                                \
    static void PFX##_window_affine(const job_t *jb, int w, PFX##_bstate *s) {                       \
        memset(s->occ, 0, s->half + 1);                                                              \
        for (size_t i = 0; i < jb->n; i++) {                                                         \
            int32_t d = jb->digits[i * jb->si + (size_t)w * jb->sw];                                 \
            if (!d || (jb->inf && jb->inf[i >> 1])) continue;                                        \
            if (!PFX##_place(s, jb, i, d)) {                                                         \
                if (s->qn < s->qcap) PFX##_qpush(s, (uint32_t)i, d);                                 \
                else {                                                                               \
                    PFX##_aff q;                                                                     \
                    PFX##_load_slot(jb, i, d < 0, &q);                                               \
                    PFX##_overflow(s, (uint32_t)(d < 0 ? -d : d), &q);                               \
                }                                                                                    \
            } else if (s->cnt == s->cap) {                                                           \
                PFX##_flush(s);                                                                      \
                PFX##_drain(s, jb);                                                                  \
            }                                                                                        \
        }                                                                                            \
        /* tail: keep batching while batches are worth an inversion, then finish in Jacobian */     \
        while (s->cnt >= MSM_MIN_BATCH) {                                                            \
            PFX##_flush(s);                                                                          \
            PFX##_drain(s, jb);                                                                      \
        }                                                                                            \
        for (int e = 0; e < s->cnt; e++) PFX##_overflow(s, s->eb[e], &s->eq[e]);                     \
        s->cnt = 0; s->cur++;                                                                        \
        while (s->qn) {                                                                              \
            uint32_t b; int32_t d; PFX##_aff q;                                                      \
            PFX##_qpop(s, jb, &q, &b, &d);                                                           \
            PFX##_overflow(s, b, &q);                                                                \
        }                                                                                            \
    }                                                                                                \
    static void *PFX##_run_windows(void *arg) {                                                      \
        job_t *jb = (job_t *)arg;                                                                    \
        size_t half = (size_t)1 << (jb->c - 1);                                                      \
        PFX##_jac *sums = (PFX##_jac *)jb->window_sums;                                              \
        PFX##_jac *buckets = NULL;                                                                   \
        PFX##_bstate s;                                                                              \
        memset(&s, 0, sizeof s);                                                                     \
        if (jb->flags & MSM_BATCH_AFFINE) {                                                          \
            s.half = half;                                                                           \
            s.cap = (int)(half / 2 < 1 ? 1 : half / 2 > MSM_MAX_BATCH ? MSM_MAX_BATCH : half / 2);  \
            s.qcap = (size_t)s.cap;                                                                  \
            s.bk = malloc((half + 1) * sizeof *s.bk); s.occ = malloc(half + 1);                      \
            s.stamp = calloc(half + 1, sizeof *s.stamp); s.cur = 1;                                  \
            s.jb = calloc(half + 1, sizeof *s.jb);                                                   \
            s.eb = malloc((size_t)s.cap * sizeof *s.eb); s.eq = malloc((size_t)s.cap * sizeof *s.eq); \
            s.den = malloc((size_t)s.cap * sizeof *s.den);                                           \
            s.nrm = malloc((size_t)s.cap * sizeof *s.nrm); s.fpre = malloc((size_t)s.cap * sizeof *s.fpre); \
            s.kind = malloc((size_t)s.cap);                                                          \
            s.qi = malloc(s.qcap * sizeof *s.qi); s.qd = malloc(s.qcap * sizeof *s.qd);              \
        } else {                                                                                     \
            buckets = malloc((half + 1) * sizeof *buckets);                                          \
        }                                                                                            \
        for (int w; (w = __atomic_fetch_add(jb->next_window, 1, __ATOMIC_RELAXED)) < jb->n_windows;) { \
            if (buckets) PFX##_window_jac(jb, w, buckets, half);                                     \
            else PFX##_window_affine(jb, w, &s);                                                     \
            PFX##_jac running, acc;                                                                  \
            memset(&running, 0, sizeof running);                                                     \
            memset(&acc, 0, sizeof acc);                                                             \
            for (size_t j = half; j >= 1; j--) {                                                     \
                if (buckets) PFX##_add(&running, &running, &buckets[j]);                             \
                else {                                                                               \
                    if (s.occ[j]) PFX##_add_aff(&running, &running, &s.bk[j]);                       \
                    if (s.jac_used) PFX##_add(&running, &running, &s.jb[j]);                         \
                }                                                                                    \
                PFX##_add(&acc, &acc, &running);                                                     \
            }                                                                                        \
            sums[w] = acc;                                                                           \
            if (s.jac_used) { memset(s.jb, 0, (half + 1) * sizeof *s.jb); s.jac_used = 0; }          \
        }                                                                                            \
        free(buckets);                                                                               \
        free(s.bk); free(s.occ); free(s.stamp); free(s.jb); free(s.eb); free(s.eq);                  \
        free(s.den); free(s.nrm); free(s.fpre); free(s.kind); free(s.qi); free(s.qd);                \
        return NULL;                                                                                 \
    }

/* Batch inversion of the entries e < cnt with kind[e] != 2 (all nonzero), in place: Montgomery's trick,
 * 3 multiplications per entry and one inversion. `pre` is scratch (cnt entries). The entries are split
 * into two halves, each with its own running product, and the two chains are advanced in lockstep: each
 * chain is a sequence of dependent multiplications (latency-bound, ~48 cycles each with mulx), so two
 * independent ones side by side keep the multiplier busy (4 more multiplications per batch). */
static void fp_batch_inv(fp *x, const uint8_t *kind, int cnt, fp *pre) {
    int h = (cnt + 1) / 2;
    fp a0 = FPONE_, a1 = FPONE_, inv, inv0, inv1, t0, t1;
    for (int e = 0; e < h; e++) {
        int f = e + h;
        if (kind[e] != 2) { fp_cpy(&pre[e], &a0); fp_mul(&a0, &a0, &x[e]); }
        if (f < cnt && kind[f] != 2) { fp_cpy(&pre[f], &a1); fp_mul(&a1, &a1, &x[f]); }
    }
    fp_mul(&inv, &a0, &a1);
    fp_inv(&inv, &inv);
    fp_mul(&inv0, &inv, &a1); /* 1 / a0 */
    fp_mul(&inv1, &inv, &a0); /* 1 / a1 */
    for (int e = h - 1; e >= 0; e--) {
        int f = e + h;
        if (f < cnt && kind[f] != 2) { fp_mul(&t1, &inv1, &pre[f]); fp_mul(&inv1, &inv1, &x[f]); fp_cpy(&x[f], &t1); }
        if (kind[e] != 2) { fp_mul(&t0, &inv0, &pre[e]); fp_mul(&inv0, &inv0, &x[e]); fp_cpy(&x[e], &t0); }
    }
}
static void g1_batch_inv(fp *x, const uint8_t *kind, int cnt, fp *nrm, fp *pre) { (void)nrm; fp_batch_inv(x, kind, cnt, pre); }
/* In Fp2 through the norms: 1/a = conj(a) / (a0^2 + a1^2), the norms inverted together in Fp (the norm
 * of a nonzero element is nonzero: -1 is not a square mod p). 7 Fp multiplications per entry against
 * 9 for Montgomery's trick run in Fp2. */
static void g2_batch_inv(fp2 *x, const uint8_t *kind, int cnt, fp *nrm, fp *pre) {
    for (int e = 0; e < cnt; e++) {
        if (kind[e] == 2) continue;
        fp a, b;
        fp_sqr(&a, &x[e].c0); fp_sqr(&b, &x[e].c1); fp_add(&nrm[e], &a, &b);
    }
    fp_batch_inv(nrm, kind, cnt, pre);
    for (int e = 0; e < cnt; e++) {
        if (kind[e] == 2) continue;
        fp_mul(&x[e].c0, &x[e].c0, &nrm[e]);
        fp_mul(&x[e].c1, &x[e].c1, &nrm[e]); fp_neg(&x[e].c1, &x[e].c1);
    }
}

DEFINE_PIPPENGER(g1, fp, 64, fp_eq, fp_is_zero, fp_add, fp_sub, fp_dbl, fp_mul, fp_sqr, g1_batch_inv)
DEFINE_PIPPENGER(g2, fp2, 128, f2_eq, f2_is_zero, f2_add, f2_sub, f2_dbl, f2_mul, f2_sqr, g2_batch_inv)

static void *run_windows(void *arg) {
    return ((job_t *)arg)->g2 ? g2_run_windows(arg) : g1_run_windows(arg);
}

/* Signed base-2^c digits of a 254-bit scalar, least significant window first. */
static void scalar_digits(const uint8_t *s, int c, int n_windows, int32_t *out) {
    uint64_t limb[5];
    memcpy(limb, s, 32);
    limb[4] = 0;
    int64_t carry = 0;
    int32_t full = 1 << c, half = 1 << (c - 1);
    for (int w = 0; w < n_windows; w++) {
        int bit = w * c;
        int64_t d = 0;
        if (bit < 256) {
            int li = bit / 64, off = bit % 64;
            u128 two = ((u128)limb[li + 1] << 64) | limb[li];
            d = (int64_t)((two >> off) & (u128)(full - 1));
        }
        d += carry;
        if (d >= half) { d -= full; carry = 1; } else { carry = 0; }
        out[w] = (int32_t)d;
    }
}

/* Signed digits of m < 2^GLV_BITS over n_windows = GLV_BITS / c + 1 windows (n_windows * c >
 * GLV_BITS), written with a stride. The top window's digit is at most 2^(c-1) (bucket `half`
 * exists), so it never needs a carry-out window of its own. */
static void glv_digits(const uint64_t m[2], int c, int n_windows, int32_t *out, size_t stride) {
    u128 v = ((u128)m[1] << 64) | m[0];
    int32_t full = 1 << c, half = 1 << (c - 1), carry = 0;
    for (int w = 0; w < n_windows; w++) {
        int32_t d = (int32_t)((v >> (w * c)) & (u128)(full - 1)) + carry;
        carry = 0;
        if (d >= half && w < n_windows - 1) { d -= full; carry = 1; }
        out[(size_t)w * stride] = d;
    }
}

static int point_is_zero(const uint8_t *b, size_t len) {
    for (size_t i = 0; i < len; i++) if (b[i]) return 0;
    return 1;
}

/* GLV preprocessing for inputs [lo, hi): slots 2i and 2i+1 of the doubled point list are P_i and
 * phi(P_i) = (beta*x_i, y_i); xp gets beta*x_i (half a point), the digits (window-major) of k1 and
 * k2 with their signs folded in (a negated digit negates the point it adds). */
typedef struct { int g2; const uint8_t *pts, *sc; uint8_t *xp; int32_t *digits; size_t n, lo, hi; int c, nw; } glvjob_t;

static void *glv_prepare(void *arg) {
    glvjob_t *j = arg;
    size_t psz = j->g2 ? 128 : 64, half = psz / 2, n2 = 2 * j->n;
    for (size_t i = j->lo; i < j->hi; i++) {
        const uint8_t *p = j->pts ? j->pts + psz * i : NULL, *s = j->sc + 32 * i;
        uint8_t *o = j->xp ? j->xp + half * i : NULL;
        if (point_is_zero(s, 32) || (p && point_is_zero(p, psz))) {
            for (int w = 0; w < j->nw; w++) j->digits[(size_t)w * n2 + 2 * i] = j->digits[(size_t)w * n2 + 2 * i + 1] = 0;
            if (o) memset(o, 0, half);
            continue;
        }
        uint64_t k[4], k1[2], k2[2];
        int neg1, neg2;
        memcpy(k, s, 32);
        while (fr_geq(k)) fr_subm(k); /* the bound on |k1|, |k2| needs k < r */
        glv_split(k, k1, &neg1, k2, &neg2);
        if (!p) {
            /* digits only (shared between MSMs); beta*x is made per MSM by betax_prepare */
        } else if (!j->g2) {
            fp x;
            load_fp(&x, p);
            fp_mul(&x, &x, &GLV_BETA_G1);
            memcpy(o, x.v, 32);
        } else {
            fp x0, x1;
            load_fp(&x0, p); load_fp(&x1, p + 32);
            fp_mul(&x0, &x0, &GLV_BETA_G2); fp_mul(&x1, &x1, &GLV_BETA_G2);
            memcpy(o, x0.v, 32); memcpy(o + 32, x1.v, 32);
        }
        int32_t *d1 = j->digits + 2 * i, *d2 = j->digits + 2 * i + 1;
        glv_digits(k1, j->c, j->nw, d1, n2);
        glv_digits(k2, j->c, j->nw, d2, n2);
        for (int w = 0; w < j->nw; w++) {
            if (neg1) d1[(size_t)w * n2] = -d1[(size_t)w * n2];
            if (neg2) d2[(size_t)w * n2] = -d2[(size_t)w * n2];
        }
    }
    return NULL;
}

/* beta*x of points [lo, hi) and their infinity flags (for MSMs on shared digits). */
typedef struct { int g2; const uint8_t *pts; uint8_t *xp, *inf; size_t lo, hi; int any_inf; } betaxjob_t;
static void *betax_prepare(void *arg) {
    betaxjob_t *j = arg;
    size_t psz = j->g2 ? 128 : 64, half = psz / 2;
    for (size_t i = j->lo; i < j->hi; i++) {
        const uint8_t *p = j->pts + psz * i;
        uint8_t *o = j->xp + half * i;
        j->inf[i] = (uint8_t)point_is_zero(p, psz);
        if (j->inf[i]) { j->any_inf = 1; memset(o, 0, half); continue; }
        fp x0, x1;
        load_fp(&x0, p);
        fp_mul(&x0, &x0, j->g2 ? &GLV_BETA_G2 : &GLV_BETA_G1);
        memcpy(o, x0.v, 32);
        if (j->g2) { load_fp(&x1, p + 32); fp_mul(&x1, &x1, &GLV_BETA_G2); memcpy(o + 32, x1.v, 32); }
    }
    return NULL;
}

/* Shared digits: a 16-byte header (u32 c, u32 windows, u64 scalar count n) then the int32 digits of
 * the GLV halves of every scalar, window-major (window w, slot 2i / 2i + 1: digits[w * 2n + slot]),
 * signs folded in, zero scalars all zero. Made once per scalar vector and used by every MSM over it. */
#define DIGITS_HDR 16
static PyObject *py_glv_digits(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer scs;
    int c, n_threads;
    if (!PyArg_ParseTuple(args, "y*ii", &scs, &c, &n_threads)) return NULL;
    PyObject *out = NULL;
    if (scs.len % 32 || c < 2 || c > 20 || n_threads < 1 || n_threads > 64) {
        PyErr_SetString(PyExc_ValueError, "scalars must be 32-byte values; bad window size or thread count");
        goto done;
    }
    size_t n = (size_t)scs.len / 32;
    if (n > 0x3fffffff) { PyErr_SetString(PyExc_ValueError, "too many scalars"); goto done; }
    int nw = GLV_BITS / c + 1;
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(DIGITS_HDR + 2 * n * (size_t)nw * sizeof(int32_t)));
    if (!out) goto done;
    uint8_t *buf = (uint8_t *)PyBytes_AS_STRING(out);
    uint32_t hc = (uint32_t)c, hw = (uint32_t)nw; uint64_t hn = n;
    memcpy(buf, &hc, 4); memcpy(buf + 4, &hw, 4); memcpy(buf + 8, &hn, 8);
    int32_t *digits = (int32_t *)(buf + DIGITS_HDR);
    const uint8_t *S = scs.buf;
    Py_BEGIN_ALLOW_THREADS
    pthread_t th[64];
    glvjob_t gj[64];
    for (int t = 0; t < n_threads; t++) {
        gj[t] = (glvjob_t){0, NULL, S, NULL, digits, n, n * (size_t)t / (size_t)n_threads,
                           n * (size_t)(t + 1) / (size_t)n_threads, c, nw};
        if (t) pthread_create(&th[t], NULL, glv_prepare, &gj[t]);
    }
    glv_prepare(&gj[0]);
    for (int t = 1; t < n_threads; t++) pthread_join(th[t], NULL);
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&scs);
    return out;
}

/* msm_g1/msm_g2(points, scalars, c, threads[, flags[, digits, first]]): with digits (from glv_digits;
 * flags must include MSM_GLV and c match), the scalars are ignored (pass b"") and point k takes the
 * digits of scalar first + k. */
static PyObject *msm_impl(PyObject *args, int g2) {
    Py_buffer pts, scs, dg;
    int c, n_threads, flags = 0, have_dg = 0;
    PyObject *dobj = Py_None;
    Py_ssize_t first = 0;
    if (!PyArg_ParseTuple(args, "y*y*ii|iOn", &pts, &scs, &c, &n_threads, &flags, &dobj, &first)) return NULL;
    size_t psz = g2 ? 128 : 64;
    PyObject *result = NULL;
    const int32_t *shared = NULL;
    size_t shared_n = 0;
    if (dobj != Py_None) {
        if (PyObject_GetBuffer(dobj, &dg, PyBUF_SIMPLE) < 0) goto done;
        have_dg = 1;
        uint32_t hc = 0, hw = 0; uint64_t hn = 0;
        if (dg.len >= DIGITS_HDR) { memcpy(&hc, dg.buf, 4); memcpy(&hw, (uint8_t *)dg.buf + 4, 4); memcpy(&hn, (uint8_t *)dg.buf + 8, 8); }
        if (dg.len < DIGITS_HDR || !(flags & MSM_GLV) || hc != (uint32_t)c || hw != (uint32_t)(GLV_BITS / c + 1)
            || hn > 0x3fffffff || (size_t)dg.len != DIGITS_HDR + 2 * hn * hw * sizeof(int32_t)) {
            PyErr_SetString(PyExc_ValueError, "digits do not come from glv_digits with this window size (and flags need MSM_GLV)");
            goto done;
        }
        if (first < 0 || (size_t)first + (size_t)pts.len / psz > hn || pts.len % psz) {
            PyErr_SetString(PyExc_ValueError, "points run past the shared digits (first + count > scalars)");
            goto done;
        }
        shared = (const int32_t *)((const uint8_t *)dg.buf + DIGITS_HDR);
        shared_n = hn;
    } else if (pts.len % psz || scs.len % 32 || (size_t)pts.len / psz != (size_t)scs.len / 32) {
        PyErr_SetString(PyExc_ValueError, "points and scalars buffers do not match");
        goto done;
    }
    if (c < 2 || c > 20 || n_threads < 1 || n_threads > 64 || (flags & ~(MSM_GLV | MSM_BATCH_AFFINE))) {
        PyErr_SetString(PyExc_ValueError, "bad window size, thread count or flags");
        goto done;
    }
    size_t n_all = (size_t)pts.len / psz;
    if (n_all > 0x3fffffff) { PyErr_SetString(PyExc_ValueError, "too many points"); goto done; }
    int n_windows;
    uint8_t *cp, *inf = NULL;
    int32_t *digits = NULL;
    const int32_t *dig;
    size_t n = 0, si, sw;
    const uint8_t *P = pts.buf, *S = scs.buf;
    void *sums;
    Py_BEGIN_ALLOW_THREADS
    pthread_t th[64];
    const uint8_t *betax = NULL, *src;
    if (shared) {
        /* digits made once for every MSM over these scalars; beta*x and infinity flags per point here */
        n_windows = GLV_BITS / c + 1;
        n = 2 * n_all;
        cp = malloc(n_all * (psz / 2) + 1);
        inf = malloc(n_all + 1);
        si = 1; sw = 2 * shared_n;
        dig = shared + 2 * (size_t)first;
        betaxjob_t bj[64];
        for (int t = 0; t < n_threads; t++) {
            bj[t] = (betaxjob_t){g2, P, cp, inf, n_all * (size_t)t / (size_t)n_threads, n_all * (size_t)(t + 1) / (size_t)n_threads, 0};
            if (t) pthread_create(&th[t], NULL, betax_prepare, &bj[t]);
        }
        betax_prepare(&bj[0]);
        int any_inf = bj[0].any_inf;
        for (int t = 1; t < n_threads; t++) { pthread_join(th[t], NULL); any_inf |= bj[t].any_inf; }
        if (!any_inf) { free(inf); inf = NULL; }
        betax = cp;
        src = P;
    } else if (flags & MSM_GLV) {
        n_windows = GLV_BITS / c + 1;
        n = 2 * n_all;
        cp = malloc(n_all * (psz / 2) + 1); /* beta*x per point: the only copy the GLV path makes */
        digits = malloc(n * (size_t)n_windows * sizeof(int32_t) + 1);
        dig = digits;
        si = 1; sw = n;
        glvjob_t gj[64];
        for (int t = 0; t < n_threads; t++) {
            gj[t] = (glvjob_t){g2, P, S, cp, digits, n_all, n_all * (size_t)t / (size_t)n_threads,
                               n_all * (size_t)(t + 1) / (size_t)n_threads, c, n_windows};
            if (t) pthread_create(&th[t], NULL, glv_prepare, &gj[t]);
        }
        glv_prepare(&gj[0]);
        for (int t = 1; t < n_threads; t++) pthread_join(th[t], NULL);
        betax = cp;
        src = P;
    } else {
        /* plain: compact away zero scalars and infinity points */
        n_windows = (SCALAR_BITS + c - 1) / c + 1;
        cp = malloc(n_all * psz + 1);
        digits = malloc(n_all * (size_t)n_windows * sizeof(int32_t) + 1);
        si = (size_t)n_windows; sw = 1;
        for (size_t i = 0; i < n_all; i++) {
            if (point_is_zero(S + 32 * i, 32) || point_is_zero(P + psz * i, psz)) continue;
            memcpy(cp + psz * n, P + psz * i, psz);
            scalar_digits(S + 32 * i, c, n_windows, digits + n * (size_t)n_windows);
            n++;
        }
        dig = digits;
        src = cp;
    }
    sums = calloc((size_t)n_windows, g2 ? sizeof(g2_jac) : sizeof(g1_jac));
    job_t jobs[64];
    int next_window = 0;
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (job_t){g2, src, n, dig, si, sw, c, n_windows, flags, t, n_threads, sums, betax, inf, &next_window};
        if (t) pthread_create(&th[t], NULL, run_windows, &jobs[t]);
    }
    run_windows(&jobs[0]);
    for (int t = 1; t < n_threads; t++) pthread_join(th[t], NULL);
    Py_END_ALLOW_THREADS
    uint8_t out[128];
    memset(out, 0, sizeof out);
    if (!g2) {
        g1_jac total; memset(&total, 0, sizeof total);
        g1_jac *ws = sums;
        for (int w = n_windows - 1; w >= 0; w--) {
            for (int k = 0; k < c; k++) g1_double(&total, &total);
            g1_add(&total, &total, &ws[w]);
        }
        if (!g1_is_inf(&total)) {
            fp zi, zi2, zi3, x, y;
            fp_inv(&zi, &total.z); fp_sqr(&zi2, &zi); fp_mul(&zi3, &zi2, &zi);
            fp_mul(&x, &total.x, &zi2); fp_mul(&y, &total.y, &zi3);
            fp_from_mont(&x, &x); fp_from_mont(&y, &y);
            memcpy(out, x.v, 32); memcpy(out + 32, y.v, 32);
        }
        result = PyBytes_FromStringAndSize((const char *)out, 64);
    } else {
        g2_jac total; memset(&total, 0, sizeof total);
        g2_jac *ws = sums;
        for (int w = n_windows - 1; w >= 0; w--) {
            for (int k = 0; k < c; k++) g2_double(&total, &total);
            g2_add(&total, &total, &ws[w]);
        }
        if (!g2_is_inf(&total)) {
            fp2 zi, zi2, zi3, x, y;
            f2_inv(&zi, &total.z); f2_sqr(&zi2, &zi); f2_mul(&zi3, &zi2, &zi);
            f2_mul(&x, &total.x, &zi2); f2_mul(&y, &total.y, &zi3);
            fp_from_mont(&x.c0, &x.c0); fp_from_mont(&x.c1, &x.c1);
            fp_from_mont(&y.c0, &y.c0); fp_from_mont(&y.c1, &y.c1);
            memcpy(out, x.c0.v, 32); memcpy(out + 32, x.c1.v, 32);
            memcpy(out + 64, y.c0.v, 32); memcpy(out + 96, y.c1.v, 32);
        }
        result = PyBytes_FromStringAndSize((const char *)out, 128);
    }
    free(sums);
    free(cp);
    free(digits);
    free(inf);
done:
    if (have_dg) PyBuffer_Release(&dg);
    PyBuffer_Release(&pts);
    PyBuffer_Release(&scs);
    return result;
}

/* ------------------------------------------------------------------ setup kernels
 * Variable-base scalar multiplication per point and radix-2 FFTs over group elements: the
 * trusted-setup steps (phase-1 updates, Lagrange bases) that are O(n log n) scalar
 * multiplications. Same layout conventions as the MSM entry points. */

#define DEFINE_SETUP(PFX, F, PSZ, LOAD, STORE, INV, MUL, ISZERO, ONE)                                \
    static void PFX##_load(PFX##_jac *r, const uint8_t *b) {                                         \
        if (point_is_zero(b, PSZ)) { memset(r, 0, sizeof *r); return; }                              \
        LOAD(&r->x, b); LOAD(&r->y, b + PSZ / 2); r->z = ONE;                                        \
    }                                                                                                \
    static void PFX##_mul(PFX##_jac *r, const PFX##_jac *p, const uint64_t k[4]) {                   \
        PFX##_jac tab[16], acc;                                                                      \
        memset(&tab[0], 0, sizeof tab[0]);                                                           \
        tab[1] = *p;                                                                                 \
        for (int i = 2; i < 16; i++) PFX##_add(&tab[i], &tab[i - 1], p);                             \
        memset(&acc, 0, sizeof acc);                                                                 \
        int top = 63; /* skip leading zero digits: setup coefficients are mostly short */           \
        while (top >= 0 && !((k[top / 16] >> (4 * (top % 16))) & 15)) top--;                        \
        for (int w = top; w >= 0; w--) {                                                             \
            for (int d = 0; d < 4; d++) PFX##_double(&acc, &acc);                                    \
            int dig = (int)((k[w / 16] >> (4 * (w % 16))) & 15);                                     \
            if (dig) PFX##_add(&acc, &acc, &tab[dig]);                                               \
        }                                                                                            \
        *r = acc;                                                                                    \
    }                                                                                                \
    /* Jacobian -> affine for many points with one inversion (Montgomery's trick). */                \
    static void PFX##_store_batch(uint8_t *out, const PFX##_jac *pts, size_t n) {                    \
        F *pre = malloc((n + 1) * sizeof(F));                                                        \
        F acc = ONE;                                                                                 \
        for (size_t i = 0; i < n; i++) { pre[i] = acc; if (!ISZERO(&pts[i].z)) MUL(&acc, &acc, &pts[i].z); } \
        F ia; INV(&ia, &acc);                                                                        \
        for (size_t i = n; i-- > 0;) {                                                               \
            uint8_t *o = out + (size_t)PSZ * i;                                                      \
            if (ISZERO(&pts[i].z)) { memset(o, 0, PSZ); continue; }                                  \
            F zi, zi2, zi3, x, y;                                                                    \
            MUL(&zi, &ia, &pre[i]); MUL(&ia, &ia, &pts[i].z);                                        \
            MUL(&zi2, &zi, &zi); MUL(&zi3, &zi2, &zi);                                               \
            MUL(&x, &pts[i].x, &zi2); MUL(&y, &pts[i].y, &zi3);                                      \
            STORE(o, &x); STORE(o + PSZ / 2, &y);                                                    \
        }                                                                                            \
        free(pre);                                                                                   \
    }

static void fp_store(uint8_t *b, const fp *a) { memcpy(b, a->v, 32); }
static void fp_load2(fp *r, const uint8_t *b) { memcpy(r->v, b, 32); }
static void f2_load(fp2 *r, const uint8_t *b) { memcpy(r->c0.v, b, 32); memcpy(r->c1.v, b + 32, 32); }
static void f2_store(uint8_t *b, const fp2 *a) { memcpy(b, a->c0.v, 32); memcpy(b + 32, a->c1.v, 32); }

DEFINE_SETUP(g1, fp, 64, fp_load2, fp_store, fp_inv, fp_mul, fp_is_zero, FPONE_)
DEFINE_SETUP(g2, fp2, 128, f2_load, f2_store, f2_inv, f2_mul, f2_is_zero, F2_ONE_INIT)

static void scalar_std(uint64_t k[4], const uint8_t *b) { memcpy(k, b, 32); }

/* scalars in Fr standard form as 4 limbs, computed with Montgomery arithmetic and converted back */
static void fr_std(uint64_t out[4], const fr *m) { uint8_t b[32]; fr_from_mont(b, m); memcpy(out, b, 32); }

typedef struct {
    int g2; void *pts; size_t n, m; const fr *tw; int t, nt; const fr *scale;
} fftjob_t;

static void *fft_stage(void *arg) {
    fftjob_t *j = arg;
    size_t n = j->n, m = j->m;
    for (size_t start = 0; start < n; start += 2 * m) {
        for (size_t k = 0; k < m; k++) {
            size_t idx = start + k;
            if ((idx / 1) % (size_t)j->nt != (size_t)j->t) continue;
            uint64_t tw[4];
            fr_std(tw, &j->tw[k]);
            if (!j->g2) {
                g1_jac *a = j->pts, v, u = a[idx], nv;
                g1_mul(&v, &a[idx + m], tw);
                g1_add(&a[idx], &u, &v);
                nv = v; fp_neg(&nv.y, &nv.y);
                g1_add(&a[idx + m], &u, &nv);
            } else {
                g2_jac *a = j->pts, v, u = a[idx], nv;
                g2_mul(&v, &a[idx + m], tw);
                g2_add(&a[idx], &u, &v);
                nv = v; fp_neg(&nv.y.c0, &nv.y.c0); fp_neg(&nv.y.c1, &nv.y.c1);
                g2_add(&a[idx + m], &u, &nv);
            }
        }
    }
    return NULL;
}

static void *scale_pts(void *arg) {
    fftjob_t *j = arg;
    uint64_t k[4];
    fr_std(k, j->scale);
    for (size_t i = (size_t)j->t; i < j->n; i += (size_t)j->nt) {
        if (!j->g2) { g1_jac *a = j->pts; g1_mul(&a[i], &a[i], k); }
        else { g2_jac *a = j->pts; g2_mul(&a[i], &a[i], k); }
    }
    return NULL;
}

static void run_parallel(void *(*fn)(void *), fftjob_t *base, int nt) {
    pthread_t th[64];
    fftjob_t jobs[64];
    for (int t = 0; t < nt; t++) { jobs[t] = *base; jobs[t].t = t; jobs[t].nt = nt; }
    for (int t = 1; t < nt; t++) pthread_create(&th[t], NULL, fn, &jobs[t]);
    fn(&jobs[0]);
    for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
}

/* fft(points, log_n, omega, scale, threads): out_j = scale * sum_i omega^(i*j) P_i. */
static PyObject *group_fft(PyObject *args, int g2) {
    Py_buffer pb, ob, sb;
    int log_n, nt;
    if (!PyArg_ParseTuple(args, "y*iy*y*i", &pb, &log_n, &ob, &sb, &nt)) return NULL;
    size_t psz = g2 ? 128 : 64, n = (size_t)1 << (log_n < 0 ? 0 : log_n);
    PyObject *res = NULL;
    if (log_n < 0 || log_n > 26 || (size_t)pb.len != psz * n || ob.len != 32 || sb.len != 32 || nt < 1 || nt > 64) {
        PyErr_SetString(PyExc_ValueError, "group fft: bad arguments");
        goto out;
    }
    size_t jsz = g2 ? sizeof(g2_jac) : sizeof(g1_jac);
    uint8_t *a = malloc(n * jsz);
    uint8_t *o = malloc(n * psz);
    fr w, scale;
    fr_to_mont(&w, ob.buf);
    fr_to_mont(&scale, sb.buf);
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        size_t r = 0;
        for (int b = 0; b < log_n; b++) if (i >> b & 1) r |= (size_t)1 << (log_n - 1 - b);
        const uint8_t *src = (const uint8_t *)pb.buf + psz * i;
        if (!g2) g1_load((g1_jac *)(a + jsz * r), src); else g2_load((g2_jac *)(a + jsz * r), src);
    }
    fr *tw = malloc((n / 2 + 1) * sizeof(fr));
    for (int s = 1; s <= log_n; s++) {
        size_t m = (size_t)1 << (s - 1);
        fr ws = w;
        for (int k = 0; k < log_n - s; k++) fr_mul(&ws, &ws, &ws);
        memcpy(tw[0].v, (uint64_t[4]){0xac96341c4ffffffbULL, 0x36fc76959f60cd29ULL, 0x666ea36f7879462eULL, 0x0e0a77c19a07df2fULL}, 32);
        for (size_t j = 1; j < m; j++) fr_mul(&tw[j], &tw[j - 1], &ws);
        fftjob_t base = {g2, a, n, m, tw, 0, 1, &scale};
        run_parallel(fft_stage, &base, nt);
    }
    fftjob_t sj = {g2, a, n, 0, tw, 0, 1, &scale};
    run_parallel(scale_pts, &sj, nt);
    if (!g2) g1_store_batch(o, (g1_jac *)a, n); else g2_store_batch(o, (g2_jac *)a, n);
    free(tw);
    Py_END_ALLOW_THREADS
    res = PyBytes_FromStringAndSize((const char *)o, (Py_ssize_t)(psz * n));
    free(a); free(o);
out:
    PyBuffer_Release(&pb); PyBuffer_Release(&ob); PyBuffer_Release(&sb);
    return res;
}

typedef struct { int g2; const uint8_t *pts; const uint8_t *sc; uint8_t *jac; size_t n; int t, nt; } muljob_t;

static void *mul_each_part(void *arg) {
    muljob_t *j = arg;
    for (size_t i = (size_t)j->t; i < j->n; i += (size_t)j->nt) {
        uint64_t k[4];
        scalar_std(k, j->sc + 32 * i);
        if (!j->g2) { g1_jac p; g1_load(&p, j->pts + 64 * i); g1_mul((g1_jac *)j->jac + i, &p, k); }
        else { g2_jac p; g2_load(&p, j->pts + 128 * i); g2_mul((g2_jac *)j->jac + i, &p, k); }
    }
    return NULL;
}

/* mul_each(points, scalars, threads): [k_i * P_i], scalars standard-form little-endian (< r). */
static PyObject *mul_each(PyObject *args, int g2) {
    Py_buffer pb, sb;
    int nt;
    if (!PyArg_ParseTuple(args, "y*y*i", &pb, &sb, &nt)) return NULL;
    size_t psz = g2 ? 128 : 64;
    PyObject *res = NULL;
    if (pb.len % psz || sb.len % 32 || (size_t)pb.len / psz != (size_t)sb.len / 32 || nt < 1 || nt > 64) {
        PyErr_SetString(PyExc_ValueError, "mul_each: bad arguments");
        goto out;
    }
    size_t n = (size_t)sb.len / 32, jsz = g2 ? sizeof(g2_jac) : sizeof(g1_jac);
    uint8_t *jac = malloc(n * jsz + 1), *o = malloc(n * psz + 1);
    Py_BEGIN_ALLOW_THREADS
    pthread_t th[64];
    muljob_t jobs[64];
    for (int t = 0; t < nt; t++) {
        jobs[t] = (muljob_t){g2, pb.buf, sb.buf, jac, n, t, nt};
        if (t) pthread_create(&th[t], NULL, mul_each_part, &jobs[t]);
    }
    mul_each_part(&jobs[0]);
    for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
    if (!g2) g1_store_batch(o, (g1_jac *)jac, n); else g2_store_batch(o, (g2_jac *)jac, n);
    Py_END_ALLOW_THREADS
    res = PyBytes_FromStringAndSize((const char *)o, (Py_ssize_t)(psz * n));
    free(jac); free(o);
out:
    PyBuffer_Release(&pb); PyBuffer_Release(&sb);
    return res;
}

static PyObject *py_fft_g1(PyObject *self, PyObject *args) { (void)self; return group_fft(args, 0); }
static PyObject *py_fft_g2(PyObject *self, PyObject *args) { (void)self; return group_fft(args, 1); }
static PyObject *py_mul_each_g1(PyObject *self, PyObject *args) { (void)self; return mul_each(args, 0); }
static PyObject *py_mul_each_g2(PyObject *self, PyObject *args) { (void)self; return mul_each(args, 1); }

/* ------------------------------------------------------------------ pairing check (pairing.c) */

#include "pairing.c"

/* ------------------------------------------------------------------ dev setup (setup.c) */

#include "setup.c"

static PyObject *py_fixed_g1(PyObject *self, PyObject *args) { (void)self; return fixed_impl(args, 0); }
static PyObject *py_fixed_g2(PyObject *self, PyObject *args) { (void)self; return fixed_impl(args, 1); }

static PyObject *py_msm_g1(PyObject *self, PyObject *args) { (void)self; return msm_impl(args, 0); }
static PyObject *py_msm_g2(PyObject *self, PyObject *args) { (void)self; return msm_impl(args, 1); }

/* ------------------------------------------------------------------ field-multiplication variants (tests, bench)
 * variant: 0 = portable CIOS, 1 = mulx/adx (ValueError if this CPU/build lacks it), 2 = the dispatched
 * fp_mul/fr_mul the kernels use (to measure the branch). field: 0 = Fp, 1 = Fr. Operands are 32-byte LE
 * Montgomery-form values < modulus (the kernels' contract; not checked here). */
static void field_mul_variant(uint64_t r[4], const uint64_t a[4], const uint64_t b[4], int variant, int field) {
    fp x, y, z;
    memcpy(x.v, a, 32); memcpy(y.v, b, 32);
    if (variant == 2) {
        if (field) fr_mul((fr *)&z, (const fr *)&x, (const fr *)&y); else fp_mul(&z, &x, &y);
    } else if (variant == 1) {
#if ZK_HAVE_MULX
        mont_mul_mulx(z.v, x.v, y.v, field ? RM : PM, field ? RINV : PINV);
#endif
    } else {
        if (field) fr_mul_portable((fr *)&z, (const fr *)&x, (const fr *)&y); else fp_mul_portable(&z, &x, &y);
    }
    memcpy(r, z.v, 32);
}

static int check_variant(int variant, int field) {
    if (variant < 0 || variant > 2 || field < 0 || field > 1) { PyErr_SetString(PyExc_ValueError, "variant 0..2, field 0..1"); return 0; }
    if (variant == 1 && !fp_mulx_supported()) { PyErr_SetString(PyExc_ValueError, "mulx/adx not available"); return 0; }
    return 1;
}

static PyObject *py_field_mul_batch(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer a, b;
    int variant, field = 0;
    if (!PyArg_ParseTuple(args, "y*y*i|i", &a, &b, &variant, &field)) return NULL;
    PyObject *out = NULL;
    if (!check_variant(variant, field)) goto done;
    if (a.len != b.len || a.len % 32) { PyErr_SetString(PyExc_ValueError, "equal lengths, multiple of 32"); goto done; }
    out = PyBytes_FromStringAndSize(NULL, a.len);
    if (!out) goto done;
    for (Py_ssize_t i = 0; i < a.len / 32; i++) {
        uint64_t x[4], y[4], z[4];
        memcpy(x, (const uint8_t *)a.buf + 32 * i, 32); memcpy(y, (const uint8_t *)b.buf + 32 * i, 32);
        field_mul_variant(z, x, y, variant, field);
        memcpy(PyBytes_AS_STRING(out) + 32 * i, z, 32);
    }
done:
    PyBuffer_Release(&a); PyBuffer_Release(&b);
    return out;
}

/* field_addsub_batch(a, b, op, variant[, field]): (a + b) mod M (op 0) or (a - b) mod M (op 1) per 32-byte
 * pair, operands < M; variant 0 = the C macros, 1 = the x86-64 assembly (ValueError where not built). */
static PyObject *py_field_addsub_batch(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer a, b;
    int op, variant, field = 0;
    if (!PyArg_ParseTuple(args, "y*y*ii|i", &a, &b, &op, &variant, &field)) return NULL;
    PyObject *out = NULL;
    if (op < 0 || op > 1 || variant < 0 || variant > 1 || field < 0 || field > 1) {
        PyErr_SetString(PyExc_ValueError, "op 0..1, variant 0..1, field 0..1"); goto done;
    }
    if (variant == 1 && !ZK_HAVE_ASM_ADDSUB) { PyErr_SetString(PyExc_ValueError, "assembly add/sub not built"); goto done; }
    if (a.len != b.len || a.len % 32) { PyErr_SetString(PyExc_ValueError, "equal lengths, multiple of 32"); goto done; }
    out = PyBytes_FromStringAndSize(NULL, a.len);
    if (!out) goto done;
    const uint64_t *m = field ? RM : PM;
    for (Py_ssize_t i = 0; i < a.len / 32; i++) {
        uint64_t x[4], y[4], z[4];
        memcpy(x, (const uint8_t *)a.buf + 32 * i, 32); memcpy(y, (const uint8_t *)b.buf + 32 * i, 32);
        if (variant == 0) { if (op) ZK_MODSUB(z, x, y, m); else ZK_MODADD(z, x, y, m); }
#if ZK_HAVE_ASM_ADDSUB
        else { if (op) modsub_asm(z, x, y, m); else modadd_asm(z, x, y, m); }
#endif
        memcpy(PyBytes_AS_STRING(out) + 32 * i, z, 32);
    }
done:
    PyBuffer_Release(&a); PyBuffer_Release(&b);
    return out;
}

/* x <- x * y, n times (each multiplication depends on the previous one: latency, not throughput) */
static PyObject *py_field_mul_chain(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer a, b;
    long long n;
    int variant, field = 0;
    if (!PyArg_ParseTuple(args, "y*y*Li|i", &a, &b, &n, &variant, &field)) return NULL;
    PyObject *out = NULL;
    if (!check_variant(variant, field)) goto done;
    if (a.len != 32 || b.len != 32) { PyErr_SetString(PyExc_ValueError, "32-byte operands"); goto done; }
    fp x, y;
    memcpy(x.v, a.buf, 32); memcpy(y.v, b.buf, 32);
    Py_BEGIN_ALLOW_THREADS
    if (variant == 0) { for (long long i = 0; i < n; i++) fp_mul_portable(&x, &x, &y); }
#if ZK_HAVE_MULX
    else if (variant == 1) { for (long long i = 0; i < n; i++) mont_mul_mulx(x.v, x.v, y.v, PM, PINV); }
#endif
    else { for (long long i = 0; i < n; i++) fp_mul(&x, &x, &y); }
    Py_END_ALLOW_THREADS
    out = PyBytes_FromStringAndSize((const char *)x.v, 32);
done:
    PyBuffer_Release(&a); PyBuffer_Release(&b);
    return out;
}

static PyObject *py_set_fp_variant(PyObject *self, PyObject *args) {
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (strcmp(name, "portable") == 0) {
#if ZK_HAVE_MULX
        fp_use_mulx = 0;
#endif
    } else if (strcmp(name, "mulx") == 0) {
        if (!fp_mulx_supported()) { PyErr_SetString(PyExc_ValueError, "mulx/adx not available"); return NULL; }
#if ZK_HAVE_MULX
        fp_use_mulx = 1;
#endif
    } else if (strcmp(name, "auto") == 0) {
        fp_mulx_detect();
    } else {
        PyErr_SetString(PyExc_ValueError, "variant: portable, mulx or auto"); return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *py_fp_variant(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return PyUnicode_FromString(fp_use_mulx ? "mulx" : "portable");
}

static PyObject *py_fp_variants(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return fp_mulx_supported() ? Py_BuildValue("(ss)", "portable", "mulx") : Py_BuildValue("(s)", "portable");
}

static PyObject *py_set_par_min(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t m;
    if (!PyArg_ParseTuple(args, "n", &m)) return NULL;
    if (m < 1) { PyErr_SetString(PyExc_ValueError, "set_par_min: need >= 1"); return NULL; }
    size_t old = par_min;
    par_min = (size_t)m;
    return PyLong_FromSize_t(old);
}

static PyMethodDef methods[] = {
    {"msm_g1", py_msm_g1, METH_VARARGS, "msm_g1(points_mont_le, scalars_le, window, threads) -> 64 bytes"},
    {"qap_h", py_qap_h, METH_VARARGS, "qap_h(a_evals_le, b_evals_le, log_n, consts[, threads]) -> (A*B-C) on the odd coset, LE"},
    {"qap_h_coeffs", py_qap_h_coeffs, METH_VARARGS,
     "qap_h_coeffs(zkey_coeff_entries, witness_le, log_n, consts[, threads]) -> (A*B-C) on the odd coset, LE"},
    {"check_coeffs", py_check_coeffs, METH_VARARGS, "check_coeffs(zkey_coeff_entries, n_vars, domain_size) -> None or (index, code)"},
    {"first_noncanonical", py_first_noncanonical, METH_VARARGS, "first_noncanonical(scalars_le) -> index of the first value >= r, or -1"},
    {"ntt", py_ntt, METH_VARARGS, "ntt(values_le, log_n, w_le[, threads]) -> the forward NTT at the powers of w, LE (tests)"},
    {"set_par_min", py_set_par_min, METH_VARARGS, "set_par_min(n) -> old: fewest items a transform splits over threads (tests lower it)"},
    {"fft_g1", py_fft_g1, METH_VARARGS, "fft_g1(points, log_n, omega_le, scale_le, threads) -> points"},
    {"fft_g2", py_fft_g2, METH_VARARGS, "fft_g2(points, log_n, omega_le, scale_le, threads) -> points"},
    {"mul_each_g1", py_mul_each_g1, METH_VARARGS, "mul_each_g1(points, scalars_le, threads) -> points"},
    {"mul_each_g2", py_mul_each_g2, METH_VARARGS, "mul_each_g2(points, scalars_le, threads) -> points"},
    {"pairing_check", py_pairing_check, METH_VARARGS, "pairing_check(g1s, g2s) -> bool: prod e(P_i, Q_i) == 1"},
    {"pairing_value", py_pairing_value, METH_VARARGS, "pairing_value(g1s, g2s) -> 384 bytes (py_ecc's Fp12 basis)"},
    {"g2_prepare", py_g2_prepare, METH_VARARGS, "g2_prepare(g2) -> the Miller-loop line coefficients of a G2 point"},
    {"g2_in_subgroup", py_g2_in_subgroup, METH_VARARGS, "g2_in_subgroup(g2_std_le) -> bool: r*Q == O (curve equation not checked)"},
    {"msm_g2", py_msm_g2, METH_VARARGS, "msm_g2(points_mont_le, scalars_le, window, threads) -> 128 bytes"},
    {"field_mul_batch", py_field_mul_batch, METH_VARARGS,
     "field_mul_batch(a_le, b_le, variant[, field]) -> a*b/2^256 per 32-byte pair; variant 0 portable, 1 mulx, 2 dispatched; field 0 Fp, 1 Fr"},
    {"glv_digits", py_glv_digits, METH_VARARGS,
     "glv_digits(scalars, c, threads) -> shared GLV digits for msm_g1/msm_g2(points, b'', c, threads, flags, digits, first)"},
    {"field_addsub_batch", py_field_addsub_batch, METH_VARARGS,
     "field_addsub_batch(a_le, b_le, op, variant[, field]) -> a+b (op 0) or a-b (op 1) mod M; variant 0 C, 1 asm"},
    {"field_mul_chain", py_field_mul_chain, METH_VARARGS, "field_mul_chain(x, y, n, variant) -> x*y^n/2^(256n) in Fp (benchmark)"},
    {"set_fp_variant", py_set_fp_variant, METH_VARARGS, "set_fp_variant('portable'|'mulx'|'auto'): Montgomery multiplication used by every kernel"},
    {"fp_variant", py_fp_variant, METH_NOARGS, "fp_variant() -> 'portable' or 'mulx' (the one in use)"},
    {"fp_variants", py_fp_variants, METH_NOARGS, "fp_variants() -> the variants this CPU and build support"},
    {"lagrange", py_lagrange, METH_VARARGS, "lagrange(x_le, log_n, odd, threads) -> L_j(x) (odd: only odd j), canonical LE"},
    {"eval_columns", py_eval_columns, METH_VARARGS, "eval_columns(entries, lag_le, n_vars) -> sum coeff * lag[row] per signal"},
    {"mix_columns", py_mix_columns, METH_VARARGS, "mix_columns(u, v, w, alpha, beta, n_pub, g_inv, d_inv) -> (beta u + alpha v + w) / gamma|delta"},
    {"scale_scalars", py_scale_scalars, METH_VARARGS, "scale_scalars(values_le, k_le) -> k * values"},
    {"fixed_g1", py_fixed_g1, METH_VARARGS, "fixed_g1(base, scalars_le, window, threads) -> [k_i * base] (kernel layout)"},
    {"coeff_section", py_coeff_section, METH_VARARGS, "coeff_section(a, b, n_vars, domain_size) -> .zkey section 4 entries"},
    {"unpack_points", py_unpack_points, METH_VARARGS, "unpack_points(buf, g2) -> [None | affine point], standard-form ints"},
    {"fixed_g2", py_fixed_g2, METH_VARARGS, "fixed_g2(base, scalars_le, window, threads) -> [k_i * base] (kernel layout)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bn254", "BN254 MSM kernel (optional)", -1, methods};

PyMODINIT_FUNC PyInit__bn254(void) {
    (void)FPZERO_; (void)fp_eq;
    fp_mulx_detect();
    return PyModule_Create(&module);
}
