/* The witness program's loop in C (issue 17: witness generation for the solvency and venue circuits).
 *
 * Why: a witness is mostly products of linear combinations (``ConstraintSystem.mul``: 85% of the steps of the
 * solvency circuit in lookup mode, ~24 terms per step) and copies into public signals; in Python every term is a
 * big-int multiplication, a modulo and a dict walk. Here the program ``ConstraintSystem._compiled()`` digested is
 * encoded once into flat arrays (per step: its kind, input LCs as (signal, coefficient index) terms, output
 * signals; the distinct coefficients once each, in Montgomery form) and evaluated over a flat buffer of field
 * elements (32 bytes little-endian per internal signal, canonical, the layout ``pack_scalars`` gives the prover).
 *
 * Bit and limb decompositions (``r1cs.BitSplit`` hints) are fields of the value's bits, also here.
 * Every other step (a Python hint: divisions, one-hot picks, lookups, the commitment) is still Python: the
 * loop evaluates its input LCs here and calls back ``py_step(index, args)``, which runs the hint exactly as the
 * pure-Python path does and returns the normalised outputs. A step's function is read at run time (``step.fn``):
 * a test that swaps a product's hint for a cheating prover's sees its function called, as in Python.
 *
 * Arithmetic: values are canonical (not Montgomery); a term is mont(v, c R) = v c, a product mont(mont(x, y), R^2)
 * = x y; coefficient 1 adds and r - 1 subtracts without a multiplication. The result is bit-identical to the Python
 * path (tests/test_witness_native.py compares both on every circuit kind and on edge values).
 *
 * Also here: the LogUp fractions m_i / (x - f_i) with one batch inversion (``lookup._logup_fractions``).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef struct { uint64_t v[4]; } fr;

static const uint64_t RM[4] = {0x43e1f593f0000001ULL, 0x2833e84879b97091ULL, 0xb85045b68181585dULL, 0x30644e72e131a029ULL};
static const uint64_t RINV = 0xc2e1f593efffffffULL; /* -r^-1 mod 2^64 */
static const fr R2 = {{0x1bb8e645ae216da7ULL, 0x53fe3ab1e35c59e3ULL, 0x8c49833d53bb8085ULL, 0x0216d0b17f4e44a5ULL}};

static inline int geq_r(const uint64_t t[4]) {
    for (int i = 3; i >= 0; i--) {
        if (t[i] > RM[i]) return 1;
        if (t[i] < RM[i]) return 0;
    }
    return 1;
}
static inline void sub_r(uint64_t t[4]) {
    u128 bw = 0;
    for (int i = 0; i < 4; i++) { u128 d = (u128)t[i] - RM[i] - bw; t[i] = (uint64_t)d; bw = (d >> 64) & 1; }
}
static inline void fr_add(fr *r, const fr *a, const fr *b) {
    u128 c = 0;
    uint64_t t[4];
    for (int i = 0; i < 4; i++) { c += (u128)a->v[i] + b->v[i]; t[i] = (uint64_t)c; c >>= 64; }
    if (c || geq_r(t)) sub_r(t); /* a + b < 2r < 2^255: no carry out, kept for clarity */
    memcpy(r->v, t, 32);
}
static inline void fr_sub(fr *r, const fr *a, const fr *b) {
    u128 bw = 0;
    uint64_t t[4];
    for (int i = 0; i < 4; i++) { u128 d = (u128)a->v[i] - b->v[i] - bw; t[i] = (uint64_t)d; bw = (d >> 64) & 1; }
    if (bw) {
        u128 c = 0;
        for (int i = 0; i < 4; i++) { c += (u128)t[i] + RM[i]; t[i] = (uint64_t)c; c >>= 64; }
    }
    memcpy(r->v, t, 32);
}
/* CIOS Montgomery multiplication: a b / 2^256 mod r for a, b < r. */
static inline void fr_mont(fr *r, const fr *a, const fr *b) {
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
    if (t[4] || geq_r(t)) sub_r(t);
    memcpy(r->v, t, 32);
}
static inline void fr_mul(fr *r, const fr *a, const fr *b) { fr t; fr_mont(&t, a, b); fr_mont(r, &t, &R2); }
static inline int fr_is_zero(const fr *a) { return !(a->v[0] | a->v[1] | a->v[2] | a->v[3]); }

/* ------------------------------------------------------------------ int <-> field element */

/* A Python int in [0, 2^256) reduced mod r; -1 with an exception set otherwise (negative, too large, not an int). */
static int fr_from_long(PyObject *o, fr *out) {
    if (!PyLong_Check(o)) { PyErr_Format(PyExc_TypeError, "field element must be an int, got %s", Py_TYPE(o)->tp_name); return -1; }
    if (_PyLong_Sign(o) < 0) { PyErr_SetString(PyExc_OverflowError, "negative field element"); return -1; }
    unsigned char b[32];
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t n = PyLong_AsNativeBytes(o, b, 32, Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER);
    if (n < 0) return -1;
    if (n > 32) { PyErr_SetString(PyExc_OverflowError, "field element above 2^256"); return -1; }
#else
    if (_PyLong_AsByteArray((PyLongObject *)o, b, 32, 1, 0) < 0) return -1;
#endif
    memcpy(out->v, b, 32); /* little-endian host (x86-64, aarch64) */
    while (geq_r(out->v)) sub_r(out->v);
    return 0;
}
static PyObject *fr_to_long(const fr *a) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(a->v, 32, Py_ASNATIVEBYTES_LITTLE_ENDIAN);
#else
    return _PyLong_FromByteArray((const unsigned char *)a->v, 32, 1, 0);
#endif
}

static int fractions(const fr *x, const fr *f, const fr *m, Py_ssize_t n, fr *out);

/* ------------------------------------------------------------------ the encoded program */

/* K_SPLIT: r1cs.BitSplit (bits, limbs); K_COUNT: lookup.RangeCount (multiplicities of values below its size);
 * K_FRAC: lookup.LogupFill (x, then (f, m) pairs: the LogUp fractions m / (x - f)) */
/* K_INV: r1cs.FieldInverse (1/v, 0 for 0); K_ZERO: r1cs.ZeroFlag (v == 0); K_SIGN: r1cs.SignBit (bit n of v + 2^n) */
enum { K_PRODUCT = 0, K_COPY = 1, K_PYTHON = 2, K_SPLIT = 3, K_COUNT = 4, K_FRAC = 5, K_INV = 6, K_ZERO = 7, K_SIGN = 8 };
#define NO_LC UINT32_MAX
#define REUSE_MIN_TERMS 3 /* an LC this wide is worth looking up among the last evaluated ones */
#define RING 8

typedef struct {
    Py_ssize_t n_steps, n_signals, n_lcs, n_terms, n_outs, n_coefs;
    uint8_t *kind;
    uint16_t *width;   /* K_SPLIT: the field width in bits (r1cs.BitSplit) */
    uint64_t *in_off;  /* per step: first input LC (n_steps + 1) */
    uint64_t *lc_off;  /* per LC: first term (n_lcs + 1) */
    uint32_t *lc_same; /* per LC: an identical LC of the last few (x * x, x^4 * x), else NO_LC: its value is reused */
    uint32_t *t_sig;   /* per term: signal id */
    uint32_t *t_coef;  /* per term: coefficient index (0: 1, 1: r - 1) */
    uint64_t *out_off; /* per step: first output (n_steps + 1) */
    uint32_t *outs;
    fr *coefs;         /* coefficient c as c R mod r (so that mont(v, .) = v c) */
} wprog;

static void wprog_free(wprog *p) {
    if (!p) return;
    free(p->kind); free(p->width); free(p->in_off); free(p->lc_off); free(p->lc_same); free(p->t_sig); free(p->t_coef);
    free(p->out_off); free(p->outs); free(p->coefs); free(p);
}
static void capsule_free(PyObject *cap) { wprog_free(PyCapsule_GetPointer(cap, "zkmargin.witness")); }

typedef struct { void **ptr; size_t size, cap, elem; } vec;
static int vec_push(vec *v, const void *x) {
    if (v->size == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 1024;
        void *np = realloc(*v->ptr, nc * v->elem);
        if (!np) { PyErr_NoMemory(); return -1; }
        *v->ptr = np; v->cap = nc;
    }
    memcpy((char *)*v->ptr + v->size * v->elem, x, v->elem);
    v->size++;
    return 0;
}

/* coefficient dedup: open addressing on the canonical value */
typedef struct { uint32_t *slot; size_t cap; } ctable;
static inline size_t chash(const fr *c) { return (size_t)((c->v[0] ^ (c->v[1] * 0x9e3779b97f4a7c15ULL) ^ c->v[2] ^ c->v[3]) * 0xff51afd7ed558ccdULL); }

typedef struct { wprog *p; vec coefs, canon; ctable ct; } coefset;

static int coef_index(coefset *cs, const fr *c, uint32_t *out) {
    fr *canon = (fr *)*cs->canon.ptr;
    if (2 * (cs->canon.size + 1) > cs->ct.cap) { /* grow the table, rehash */
        size_t nc = cs->ct.cap ? cs->ct.cap * 2 : 4096;
        uint32_t *ns = malloc(nc * sizeof(uint32_t));
        if (!ns) { PyErr_NoMemory(); return -1; }
        memset(ns, 0xff, nc * sizeof(uint32_t));
        for (size_t i = 0; i < cs->canon.size; i++) {
            size_t h = chash(&canon[i]) & (nc - 1);
            while (ns[h] != UINT32_MAX) h = (h + 1) & (nc - 1);
            ns[h] = (uint32_t)i;
        }
        free(cs->ct.slot); cs->ct.slot = ns; cs->ct.cap = nc;
    }
    size_t h = chash(c) & (cs->ct.cap - 1);
    while (cs->ct.slot[h] != UINT32_MAX) {
        uint32_t i = cs->ct.slot[h];
        if (!memcmp(canon[i].v, c->v, 32)) { *out = i; return 0; }
        h = (h + 1) & (cs->ct.cap - 1);
    }
    if (cs->canon.size >= UINT32_MAX - 1) { PyErr_SetString(PyExc_OverflowError, "too many coefficients"); return -1; }
    fr m;
    fr_mont(&m, c, &R2); /* c R */
    if (vec_push(&cs->canon, c) < 0 || vec_push(&cs->coefs, &m) < 0) return -1;
    *out = (uint32_t)(cs->canon.size - 1);
    cs->ct.slot[h] = *out;
    return 0;
}

/* The fields of a K_SPLIT step: out_j = bits [w j, w j + w) of v, as r1cs.BitSplit computes them. */
static inline void split_fields(const fr *v, unsigned w, uint64_t n, fr *vals, const uint32_t *outs) {
    for (uint64_t j = 0; j < n; j++) {
        fr o = {{0, 0, 0, 0}};
        uint64_t lo = (uint64_t)w * j;
        for (unsigned b = 0; b < w && lo + b < 256; b += 1) {
            uint64_t pos = lo + b;
            if ((v->v[pos >> 6] >> (pos & 63)) & 1) o.v[b >> 6] |= 1ULL << (b & 63);
        }
        vals[outs[j]] = o;
    }
}

/* encode(program, product_fn, copy_fn, n_signals, (split, count, frac, inverse, zero, sign types)) -> capsule.
 * program: the list ConstraintSystem._compiled() returns, of (step, ins); ins: a signal id (the LC is that signal
 * with coefficient 1) or (ids, coefficients). A step is K_PRODUCT if its function is product_fn with two inputs and
 * one output, K_COPY for copy_fn with one input and one output, else K_PYTHON. */
static PyObject *py_encode(PyObject *self, PyObject *args) {
    PyObject *prog, *product_fn, *copy_fn, *split_type, *count_type, *frac_type, *inv_type, *zero_type, *sign_type;
    Py_ssize_t n_signals;
    if (!PyArg_ParseTuple(args, "O!OOn(OOOOOO)", &PyList_Type, &prog, &product_fn, &copy_fn, &n_signals, &split_type,
                          &count_type, &frac_type, &inv_type, &zero_type, &sign_type))
        return NULL;
    if (n_signals < 1 || n_signals > (Py_ssize_t)UINT32_MAX) { PyErr_SetString(PyExc_ValueError, "signal count out of range"); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(prog);
    wprog *p = calloc(1, sizeof(wprog));
    if (!p) return PyErr_NoMemory();
    p->n_steps = n;
    p->n_signals = n_signals;
    p->kind = malloc((size_t)(n ? n : 1));
    p->width = calloc((size_t)(n ? n : 1), sizeof(uint16_t));
    p->in_off = malloc(sizeof(uint64_t) * (size_t)(n + 1));
    p->out_off = malloc(sizeof(uint64_t) * (size_t)(n + 1));
    vec lcs = {(void **)&p->lc_off, 0, 0, sizeof(uint64_t)}, tsig = {(void **)&p->t_sig, 0, 0, sizeof(uint32_t)};
    vec tcoef = {(void **)&p->t_coef, 0, 0, sizeof(uint32_t)}, outs = {(void **)&p->outs, 0, 0, sizeof(uint32_t)};
    vec same = {(void **)&p->lc_same, 0, 0, sizeof(uint32_t)};
    uint32_t recent[4] = {NO_LC, NO_LC, NO_LC, NO_LC}; /* wide LCs of the product and copy steps since the last hint */
    int rpos = 0;
    fr *canon_buf = NULL;
    coefset cs = {p, {(void **)&p->coefs, 0, 0, sizeof(fr)}, {(void **)&canon_buf, 0, 0, sizeof(fr)}, {NULL, 0}};
    PyObject *s_fn = PyUnicode_InternFromString("fn"), *s_out = PyUnicode_InternFromString("outputs");
    PyObject *s_width = PyUnicode_InternFromString("width");
    int ok = p->kind && p->width && p->in_off && p->out_off && s_fn && s_out && s_width;
    if (!ok) PyErr_NoMemory();
    uint32_t idx;
    fr one = {{1, 0, 0, 0}}, minus = {{RM[0] - 1, RM[1], RM[2], RM[3]}};
    if (ok) ok = coef_index(&cs, &one, &idx) == 0 && coef_index(&cs, &minus, &idx) == 0;
    uint64_t zero64 = 0;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        PyObject *item = PyList_GET_ITEM(prog, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyList_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "program item must be (step, [inputs])"); ok = 0; break;
        }
        PyObject *step = PyTuple_GET_ITEM(item, 0), *ins = PyTuple_GET_ITEM(item, 1);
        PyObject *fn = PyObject_GetAttr(step, s_fn), *souts = PyObject_GetAttr(step, s_out);
        if (!fn || !souts || !PyList_Check(souts)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "step.outputs must be a list");
            Py_XDECREF(fn); Py_XDECREF(souts); ok = 0; break;
        }
        Py_ssize_t nin = PyList_GET_SIZE(ins), nout = PyList_GET_SIZE(souts);
        p->kind[i] = (fn == product_fn && nin == 2 && nout == 1) ? K_PRODUCT : (fn == copy_fn && nin == 1 && nout == 1) ? K_COPY : K_PYTHON;
        if (p->kind[i] == K_PYTHON && nin == 1 && PyObject_TypeCheck(fn, (PyTypeObject *)split_type)) {
            PyObject *wo = PyObject_GetAttr(fn, s_width);
            long w = wo ? PyLong_AsLong(wo) : -1;
            Py_XDECREF(wo);
            if (w >= 1 && w <= 256) { p->kind[i] = K_SPLIT; p->width[i] = (uint16_t)w; }
            PyErr_Clear();
        } else if (p->kind[i] == K_PYTHON && PyObject_TypeCheck(fn, (PyTypeObject *)count_type)) {
            p->kind[i] = K_COUNT;
        } else if (p->kind[i] == K_PYTHON && nin == 2 * nout + 1 && PyObject_TypeCheck(fn, (PyTypeObject *)frac_type)) {
            p->kind[i] = K_FRAC;
        } else if (p->kind[i] == K_PYTHON && nin == 1 && nout == 1) {
            if (Py_TYPE(fn) == (PyTypeObject *)inv_type) p->kind[i] = K_INV;
            else if (Py_TYPE(fn) == (PyTypeObject *)zero_type) p->kind[i] = K_ZERO;
            else if (Py_TYPE(fn) == (PyTypeObject *)sign_type) {
                PyObject *no = PyObject_GetAttr(fn, s_width);
                long nb = no ? PyLong_AsLong(no) : -1;
                Py_XDECREF(no);
                PyErr_Clear();
                if (nb >= 0 && nb <= 252) { p->kind[i] = K_SIGN; p->width[i] = (uint16_t)nb; }
            }
        }
        Py_DECREF(fn);
        p->in_off[i] = lcs.size;
        p->out_off[i] = outs.size;
        for (Py_ssize_t k = 0; ok && k < nout; k++) {
            Py_ssize_t s = PyLong_AsSsize_t(PyList_GET_ITEM(souts, k));
            if (s < 0 || s >= n_signals) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "output signal out of range"); ok = 0; break; }
            uint32_t s32 = (uint32_t)s;
            if (vec_push(&outs, &s32) < 0) ok = 0;
        }
        Py_DECREF(souts);
        for (Py_ssize_t k = 0; ok && k < nin; k++) {
            PyObject *in = PyList_GET_ITEM(ins, k);
            uint64_t start = tsig.size;
            uint32_t none = NO_LC;
            if (vec_push(&lcs, &start) < 0 || vec_push(&same, &none) < 0) { ok = 0; break; }
            if (PyLong_Check(in)) {
                Py_ssize_t s = PyLong_AsSsize_t(in);
                if (s < 0 || s >= n_signals) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "input signal out of range"); ok = 0; break; }
                uint32_t s32 = (uint32_t)s, c0 = 0;
                if (vec_push(&tsig, &s32) < 0 || vec_push(&tcoef, &c0) < 0) ok = 0;
                continue;
            }
            if (!PyTuple_Check(in) || PyTuple_GET_SIZE(in) != 2) { PyErr_SetString(PyExc_TypeError, "input must be a signal or (ids, coefficients)"); ok = 0; break; }
            PyObject *ids = PyTuple_GET_ITEM(in, 0), *cos = PyTuple_GET_ITEM(in, 1);
            if (!PyTuple_Check(ids) || !PyTuple_Check(cos) || PyTuple_GET_SIZE(ids) != PyTuple_GET_SIZE(cos)) {
                PyErr_SetString(PyExc_TypeError, "(ids, coefficients) must be two tuples of one length"); ok = 0; break;
            }
            for (Py_ssize_t t = 0; t < PyTuple_GET_SIZE(ids); t++) {
                Py_ssize_t s = PyLong_AsSsize_t(PyTuple_GET_ITEM(ids, t));
                if (s < 0 || s >= n_signals) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "input signal out of range"); ok = 0; break; }
                fr c;
                if (fr_from_long(PyTuple_GET_ITEM(cos, t), &c) < 0 || coef_index(&cs, &c, &idx) < 0) { ok = 0; break; }
                uint32_t s32 = (uint32_t)s;
                if (vec_push(&tsig, &s32) < 0 || vec_push(&tcoef, &idx) < 0) { ok = 0; break; }
            }
            /* the same terms as one of the last wide LCs (same order: the digest keeps the LC's dict order) */
            uint64_t len = tsig.size - start;
            uint32_t me = (uint32_t)(lcs.size - 1);
            if (ok && len >= REUSE_MIN_TERMS) {
                const uint64_t *lo = (const uint64_t *)*lcs.ptr;
                const uint32_t *ts = (const uint32_t *)*tsig.ptr, *tc = (const uint32_t *)*tcoef.ptr;
                for (int q = 0; q < 4; q++) {
                    uint32_t j = recent[q];
                    if (j == NO_LC || lo[j + 1] - lo[j] != len) continue;
                    if (!memcmp(ts + lo[j], ts + start, len * 4) && !memcmp(tc + lo[j], tc + start, len * 4)) {
                        ((uint32_t *)*same.ptr)[me] = j;
                        break;
                    }
                }
                recent[rpos] = me;
                rpos = (rpos + 1) & 3;
            }
        }
        if (p->kind[i] == K_PYTHON) /* a hint may fill a reserved signal: nothing before it is reused after it */
            for (int q = 0; q < 4; q++) recent[q] = NO_LC;
    }
    if (ok) {
        p->in_off[n] = lcs.size;
        p->out_off[n] = outs.size;
        uint64_t end = tsig.size;
        ok = vec_push(&lcs, &end) == 0 && vec_push(&tsig, &zero64) == 0 && vec_push(&tcoef, &zero64) == 0 &&
             vec_push(&outs, &zero64) == 0; /* never-empty arrays */
        p->n_lcs = (Py_ssize_t)lcs.size - 1;
        uint32_t none = NO_LC;
        ok = ok && vec_push(&same, &none) == 0;
        p->n_terms = (Py_ssize_t)end;
        p->n_outs = (Py_ssize_t)outs.size - 1;
        p->n_coefs = (Py_ssize_t)cs.coefs.size;
    }
    Py_XDECREF(s_fn); Py_XDECREF(s_out); Py_XDECREF(s_width);
    free(canon_buf); free(cs.ct.slot);
    if (!ok) { wprog_free(p); return NULL; }
    return PyCapsule_New(p, "zkmargin.witness", capsule_free);
}

typedef struct { uint64_t idx[RING]; fr val[RING]; int pos; } lcring;
static inline void ring_init(lcring *r) { for (int q = 0; q < RING; q++) r->idx[q] = UINT64_MAX; r->pos = 0; }

static inline void eval_lc(const wprog *p, uint64_t lc, const fr *vals, fr *out);
/* eval_lc with the values of the last wide LCs kept: an LC identical to one of them (lc_same) is not summed again.
 * Sound because the steps between the two (encoded as products or copies) write only signals made after both. */
static inline void eval_lc_r(const wprog *p, uint64_t lc, const fr *vals, fr *out, lcring *r) {
    uint32_t j = p->lc_same[lc];
    if (j != NO_LC)
        for (int q = 0; q < RING; q++)
            if (r->idx[q] == j) { *out = r->val[q]; goto keep; }
    eval_lc(p, lc, vals, out);
    if (p->lc_off[lc + 1] - p->lc_off[lc] < REUSE_MIN_TERMS) return;
keep:
    r->idx[r->pos] = lc;
    r->val[r->pos] = *out;
    r->pos = (r->pos + 1) % RING;
}

static inline void eval_lc(const wprog *p, uint64_t lc, const fr *vals, fr *out) {
    fr acc = {{0, 0, 0, 0}}, t;
    for (uint64_t k = p->lc_off[lc]; k < p->lc_off[lc + 1]; k++) {
        const fr *v = &vals[p->t_sig[k]];
        uint32_t c = p->t_coef[k];
        if (c == 0) fr_add(&acc, &acc, v);
        else if (c == 1) fr_sub(&acc, &acc, v);
        else { fr_mont(&t, v, &p->coefs[c]); fr_add(&acc, &acc, &t); }
    }
    *out = acc;
}

/* Whether step i runs in C with its current function fn: a product or a copy as encoded, or a K_SPLIT step whose
 * function's type is one of split_types (a tuple: the caller leaves a type out when a module helper it calls was
 * swapped, e.g. lookup._limbs by a test's cheating prover). */
static inline int runs_native(const wprog *p, Py_ssize_t i, PyObject *fn, PyObject *product_fn, PyObject *copy_fn,
                              PyObject *split_types) {
    uint8_t k = p->kind[i];
    if (k == K_PRODUCT) return fn == product_fn;
    if (k == K_COPY) return fn == copy_fn;
    if (k == K_SPLIT || k == K_COUNT || k == K_FRAC || k == K_INV || k == K_ZERO || k == K_SIGN) {
        for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(split_types); q++)
            if ((PyObject *)Py_TYPE(fn) == PyTuple_GET_ITEM(split_types, q)) return 1;
    }
    return 0;
}

/* 0, or -1 when out of memory (K_FRAC's temporary arrays) */
static inline int run_native_step(const wprog *p, Py_ssize_t i, fr *vals, lcring *ring) {
    uint64_t in0 = p->in_off[i];
    uint8_t k = p->kind[i];
    if (k == K_PRODUCT) {
        fr a, b;
        eval_lc_r(p, in0, vals, &a, ring);
        eval_lc_r(p, in0 + 1, vals, &b, ring);
        fr_mul(&vals[p->outs[p->out_off[i]]], &a, &b);
    } else if (k == K_COPY) {
        eval_lc_r(p, in0, vals, &vals[p->outs[p->out_off[i]]], ring);
    } else if (k == K_SPLIT) {
        fr v;
        eval_lc_r(p, in0, vals, &v, ring);
        split_fields(&v, p->width[i], p->out_off[i + 1] - p->out_off[i], vals, p->outs + p->out_off[i]);
    } else if (k == K_INV || k == K_ZERO || k == K_SIGN) {
        fr v, o = {{0, 0, 0, 0}};
        eval_lc_r(p, in0, vals, &v, ring);
        if (k == K_ZERO) {
            o.v[0] = fr_is_zero(&v);
        } else if (k == K_SIGN) { /* ((v + 2^n) mod r) >> n & 1 */
            unsigned nb = p->width[i];
            fr t = {{0, 0, 0, 0}};
            t.v[nb >> 6] = 1ULL << (nb & 63);
            fr_add(&t, &t, &v);
            o.v[0] = (t.v[nb >> 6] >> (nb & 63)) & 1;
        } else if (!fr_is_zero(&v)) { /* v^(r-2) */
            fr vm, acc, one = {{1, 0, 0, 0}};
            fr_mont(&vm, &v, &R2);
            fr_mont(&acc, &one, &R2);
            uint64_t e[4] = {RM[0] - 2, RM[1], RM[2], RM[3]};
            for (int w = 3; w >= 0; w--)
                for (int b = 63; b >= 0; b--) {
                    fr_mont(&acc, &acc, &acc);
                    if ((e[w] >> b) & 1) fr_mont(&acc, &acc, &vm);
                }
            fr_mont(&o, &acc, &one); /* out of Montgomery form */
        }
        vals[p->outs[p->out_off[i]]] = o;
    } else if (k == K_COUNT) { /* lookup._multiplicities: m[v] += 1 for every input v below the table size */
        uint64_t size = p->out_off[i + 1] - p->out_off[i];
        uint64_t *cnt = calloc(size ? size : 1, sizeof(uint64_t));
        if (!cnt) return -1;
        for (uint64_t q = in0; q < p->in_off[i + 1]; q++) {
            fr v;
            eval_lc(p, q, vals, &v);
            if (!v.v[1] && !v.v[2] && !v.v[3] && v.v[0] < size) cnt[v.v[0]]++;
        }
        for (uint64_t q = 0; q < size; q++) {
            fr o = {{cnt[q], 0, 0, 0}};
            vals[p->outs[p->out_off[i] + q]] = o;
        }
        free(cnt);
    } else { /* K_FRAC: lookup._logup_fractions(x, f0, m0, f1, m1, ...) */
        Py_ssize_t n = (Py_ssize_t)(p->out_off[i + 1] - p->out_off[i]);
        fr x, *f = malloc(sizeof(fr) * (size_t)(n ? n : 1)), *m = malloc(sizeof(fr) * (size_t)(n ? n : 1));
        fr *r = malloc(sizeof(fr) * (size_t)(n ? n : 1));
        int bad = !f || !m || !r;
        if (!bad) {
            eval_lc(p, in0, vals, &x);
            for (Py_ssize_t q = 0; q < n; q++) {
                eval_lc(p, in0 + 1 + 2 * (uint64_t)q, vals, &f[q]);
                eval_lc(p, in0 + 2 + 2 * (uint64_t)q, vals, &m[q]);
            }
            bad = fractions(&x, f, m, n, r) < 0;
        }
        if (!bad)
            for (Py_ssize_t q = 0; q < n; q++) vals[p->outs[p->out_off[i] + (uint64_t)q]] = r[q];
        free(f); free(m); free(r);
        if (bad) return -1;
    }
    return 0;
}

/* run(capsule, program, values, steps, lo, hi, product_fn, copy_fn, py_step, split_types) -> None.
 * Evaluates steps[lo:hi] (steps: a buffer of uint32 step indices, or None for the steps lo..hi-1 themselves) over
 * values (writable buffer, 32 bytes per internal signal). A step whose current function is not the one it was
 * encoded for, or a Python hint, goes to py_step(index, [input values]) -> list of canonical outputs. */
static PyObject *py_run(PyObject *self, PyObject *args) {
    PyObject *cap, *prog, *steps_obj, *product_fn, *copy_fn, *py_step, *split_types;
    Py_buffer vb, sb = {0};
    Py_ssize_t lo, hi;
    if (!PyArg_ParseTuple(args, "OO!w*OnnOOOO!", &cap, &PyList_Type, &prog, &vb, &steps_obj, &lo, &hi, &product_fn,
                          &copy_fn, &py_step, &PyTuple_Type, &split_types))
        return NULL;
    wprog *p = PyCapsule_GetPointer(cap, "zkmargin.witness");
    PyObject *s_fn = NULL;
    int ok = p != NULL;
    const uint32_t *sel = NULL;
    Py_ssize_t nsel = 0;
    if (ok && steps_obj != Py_None) {
        if (PyObject_GetBuffer(steps_obj, &sb, PyBUF_SIMPLE) < 0) ok = 0;
        else { sel = sb.buf; nsel = sb.len / 4; }
    }
    if (ok && vb.len < p->n_signals * 32) { PyErr_SetString(PyExc_ValueError, "values buffer too small"); ok = 0; }
    if (ok && PyList_GET_SIZE(prog) < p->n_steps) { PyErr_SetString(PyExc_ValueError, "program shorter than its encoding"); ok = 0; }
    Py_ssize_t lim = sel ? nsel : p->n_steps;
    if (ok && (lo < 0 || hi > lim || lo > hi)) { PyErr_SetString(PyExc_IndexError, "step range out of bounds"); ok = 0; }
    if (ok) { s_fn = PyUnicode_InternFromString("fn"); ok = s_fn != NULL; }
    fr *vals = vb.buf;
    lcring ring;
    ring_init(&ring);
    for (Py_ssize_t j = lo; ok && j < hi; j++) {
        Py_ssize_t i = sel ? (Py_ssize_t)sel[j] : j;
        if (i >= p->n_steps) { PyErr_SetString(PyExc_IndexError, "step index out of range"); ok = 0; break; }
        PyObject *step = PyTuple_GET_ITEM(PyList_GET_ITEM(prog, i), 0);
        PyObject *fn = PyObject_GetAttr(step, s_fn);
        if (!fn) { ok = 0; break; }
        uint64_t in0 = p->in_off[i];
        if (runs_native(p, i, fn, product_fn, copy_fn, split_types)) {
            if (run_native_step(p, i, vals, &ring) < 0) { PyErr_NoMemory(); ok = 0; }
        } else {
            Py_ssize_t nin = (Py_ssize_t)(p->in_off[i + 1] - in0), nout = (Py_ssize_t)(p->out_off[i + 1] - p->out_off[i]);
            PyObject *argl = PyList_New(nin), *res = NULL;
            ok = argl != NULL;
            for (Py_ssize_t q = 0; ok && q < nin; q++) {
                fr v;
                eval_lc(p, in0 + (uint64_t)q, vals, &v);
                PyObject *o = fr_to_long(&v);
                if (!o) ok = 0;
                else PyList_SET_ITEM(argl, q, o);
            }
            if (ok) {
                PyObject *ix = PyLong_FromSsize_t(i);
                res = ix ? PyObject_CallFunctionObjArgs(py_step, ix, argl, NULL) : NULL;
                Py_XDECREF(ix);
                ok = res != NULL;
            }
            if (ok && (!PyList_Check(res) || PyList_GET_SIZE(res) != nout)) {
                PyErr_SetString(PyExc_ValueError, "py_step must return one value per output");
                ok = 0;
            }
            for (Py_ssize_t q = 0; ok && q < nout; q++)
                if (fr_from_long(PyList_GET_ITEM(res, q), &vals[p->outs[p->out_off[i] + (uint64_t)q]]) < 0) ok = 0;
            Py_XDECREF(argl);
            Py_XDECREF(res);
        }
        Py_DECREF(fn);
    }
    Py_XDECREF(s_fn);
    if (sb.obj) PyBuffer_Release(&sb);
    PyBuffer_Release(&vb);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ threads
 * run_threads(capsule, program, values, chunks, product_fn, copy_fn, py_step) -> [ok per chunk]
 * Each chunk (a buffer of uint32 step indices) on its own thread (the caller's takes the first), the GIL released
 * except around a Python step: the products and copies of the chunks run at once; the hints take turns. The caller
 * guarantees that no step of a chunk reads another chunk's outputs (circuits/witness_parallel.py's rounds). Which
 * steps are native is decided once, before the threads start, from each step's current function (step.fn). A chunk
 * whose Python step raised stops there and reports False (the exception is dropped): the caller re-runs it serially,
 * which raises the same error as the serial witness. Threads, not processes: a fork of a multi-gigabyte circuit costs
 * ~0.1 s per GB in page tables alone, more than a round of the C loop. */
#include <pthread.h>

typedef struct {
    const wprog *p;
    PyObject *prog, *py_step;
    fr *vals;
    const uint32_t *steps;
    Py_ssize_t n;
    const uint8_t *native; /* per step of the program: 1 when its kind runs in C */
    int ok;
    PyThreadState *ts; /* this thread's Python state while it does not hold the GIL */
} tjob;

static int run_python_step(const wprog *p, tjob *j, fr *vals, Py_ssize_t i) {
    PyObject *py_step = j->py_step;
    PyEval_RestoreThread(j->ts); /* take the GIL for one hint */
    uint64_t in0 = p->in_off[i];
    Py_ssize_t nin = (Py_ssize_t)(p->in_off[i + 1] - in0), nout = (Py_ssize_t)(p->out_off[i + 1] - p->out_off[i]);
    PyObject *argl = PyList_New(nin), *res = NULL, *ix = NULL;
    int ok = argl != NULL;
    for (Py_ssize_t q = 0; ok && q < nin; q++) {
        fr v;
        eval_lc(p, in0 + (uint64_t)q, vals, &v);
        PyObject *o = fr_to_long(&v);
        if (!o) ok = 0;
        else PyList_SET_ITEM(argl, q, o);
    }
    if (ok) { ix = PyLong_FromSsize_t(i); ok = ix != NULL; }
    if (ok) { res = PyObject_CallFunctionObjArgs(py_step, ix, argl, NULL); ok = res != NULL; }
    if (ok && (!PyList_Check(res) || PyList_GET_SIZE(res) != nout)) ok = 0;
    for (Py_ssize_t q = 0; ok && q < nout; q++)
        if (fr_from_long(PyList_GET_ITEM(res, q), &vals[p->outs[p->out_off[i] + (uint64_t)q]]) < 0) ok = 0;
    if (!ok) PyErr_Clear();
    Py_XDECREF(ix); Py_XDECREF(argl); Py_XDECREF(res);
    j->ts = PyEval_SaveThread();
    return ok;
}

static void tjob_loop(tjob *j);
/* a worker thread: a Python thread state made once (not one per hint), the GIL held only inside hints */
static void *tjob_thread(void *arg) {
    tjob *j = arg;
    PyGILState_STATE g = PyGILState_Ensure();
    j->ts = PyEval_SaveThread();
    tjob_loop(j);
    PyEval_RestoreThread(j->ts);
    PyGILState_Release(g);
    return NULL;
}

static void tjob_loop(tjob *j) {
    const wprog *p = j->p;
    fr *vals = j->vals;
    lcring ring;
    ring_init(&ring);
    j->ok = 1;
    for (Py_ssize_t q = 0; q < j->n; q++) {
        Py_ssize_t i = j->steps[q];
        if (j->native[i]) {
            if (run_native_step(p, i, vals, &ring) < 0) { j->ok = 0; break; }
        } else if (!run_python_step(p, j, vals, i)) {
            j->ok = 0;
            break;
        }
    }
}

static PyObject *py_run_threads(PyObject *self, PyObject *args) {
    PyObject *cap, *prog, *chunks, *product_fn, *copy_fn, *py_step, *split_types;
    Py_buffer vb;
    if (!PyArg_ParseTuple(args, "OO!w*O!OOOO!", &cap, &PyList_Type, &prog, &vb, &PyList_Type, &chunks, &product_fn,
                          &copy_fn, &py_step, &PyTuple_Type, &split_types))
        return NULL;
    wprog *p = PyCapsule_GetPointer(cap, "zkmargin.witness");
    Py_ssize_t nc = PyList_GET_SIZE(chunks);
    Py_buffer *bufs = calloc((size_t)(nc ? nc : 1), sizeof(Py_buffer));
    tjob *jobs = calloc((size_t)(nc ? nc : 1), sizeof(tjob));
    pthread_t *th = calloc((size_t)(nc ? nc : 1), sizeof(pthread_t));
    int *started = calloc((size_t)(nc ? nc : 1), sizeof(int));
    uint8_t *native = NULL;
    PyObject *s_fn = PyUnicode_InternFromString("fn"), *out = NULL;
    Py_ssize_t got = 0;
    int ok = p != NULL;
    if (ok && (!bufs || !jobs || !th || !started || !s_fn)) { PyErr_NoMemory(); ok = 0; }
    if (ok && vb.len < p->n_signals * 32) { PyErr_SetString(PyExc_ValueError, "values buffer too small"); ok = 0; }
    if (ok && PyList_GET_SIZE(prog) < p->n_steps) { PyErr_SetString(PyExc_ValueError, "program shorter than its encoding"); ok = 0; }
    if (ok) { native = calloc((size_t)p->n_steps + 1, 1); if (!native) { PyErr_NoMemory(); ok = 0; } }
    for (; ok && got < nc; got++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(chunks, got), &bufs[got], PyBUF_SIMPLE) < 0) { ok = 0; break; }
        const uint32_t *st = bufs[got].buf;
        Py_ssize_t n = bufs[got].len / 4;
        for (Py_ssize_t q = 0; ok && q < n; q++) {
            if ((Py_ssize_t)st[q] >= p->n_steps) { PyErr_SetString(PyExc_IndexError, "step index out of range"); ok = 0; break; }
            PyObject *fn = PyObject_GetAttr(PyTuple_GET_ITEM(PyList_GET_ITEM(prog, st[q]), 0), s_fn);
            if (!fn) { ok = 0; break; }
            native[st[q]] = (uint8_t)runs_native(p, st[q], fn, product_fn, copy_fn, split_types);
            Py_DECREF(fn);
        }
        jobs[got] = (tjob){p, prog, py_step, vb.buf, st, n, native, 0, NULL};
    }
    if (ok) {
        PyThreadState *main_ts = PyEval_SaveThread();
        for (Py_ssize_t c = 1; c < nc; c++) started[c] = pthread_create(&th[c], NULL, tjob_thread, &jobs[c]) == 0;
        for (Py_ssize_t c = 0; c < nc; c++) {
            if (c == 0 || !started[c]) { /* the caller's chunk, and any whose thread could not start */
                jobs[c].ts = main_ts;
                tjob_loop(&jobs[c]);
                main_ts = jobs[c].ts;
            }
        }
        for (Py_ssize_t c = 1; c < nc; c++)
            if (started[c]) pthread_join(th[c], NULL);
        PyEval_RestoreThread(main_ts);
        out = PyList_New(nc);
        for (Py_ssize_t c = 0; out && c < nc; c++) PyList_SET_ITEM(out, c, PyBool_FromLong(jobs[c].ok));
    }
    for (Py_ssize_t c = 0; c < got; c++) PyBuffer_Release(&bufs[c]);
    free(bufs); free(jobs); free(th); free(started); free(native);
    Py_XDECREF(s_fn);
    PyBuffer_Release(&vb);
    return out;
}

/* to_list(values, order) -> [int(values[s]) for s in order]; order: a buffer of uint32 signal ids. */
static PyObject *py_to_list(PyObject *self, PyObject *args) {
    Py_buffer vb, ob;
    if (!PyArg_ParseTuple(args, "y*y*", &vb, &ob)) return NULL;
    Py_ssize_t n = ob.len / 4, nv = vb.len / 32;
    const uint32_t *order = ob.buf;
    const fr *vals = vb.buf;
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        if ((Py_ssize_t)order[i] >= nv) { PyErr_SetString(PyExc_IndexError, "signal out of range"); Py_CLEAR(out); break; }
        PyObject *o = fr_to_long(&vals[order[i]]);
        if (!o) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, o);
    }
    PyBuffer_Release(&vb);
    PyBuffer_Release(&ob);
    return out;
}

/* logup_fractions(x, v) -> [m_i / (x - f_i)] for v = (f_0, m_0, f_1, m_1, ...), 0 where x = f_i: one inversion for
 * all (Montgomery's trick), as lookup._logup_fractions computes it in Python. Values in [0, 2^256). */
/* out_i = m_i / (x - f_i), 0 where x = f_i, for canonical x, f, m: one inversion (Montgomery's trick). -1: no memory. */
static int fractions(const fr *x, const fr *f, const fr *m, Py_ssize_t n, fr *out) {
    fr *d = malloc(sizeof(fr) * (size_t)(n ? n : 1)), *pre = malloc(sizeof(fr) * (size_t)(n ? n : 1));
    if (!d || !pre) { free(d); free(pre); return -1; }
    /* Montgomery form from here: mont(a, b) of two Montgomery values is their product's form */
    fr xm, acc, inv, t, onem, one = {{1, 0, 0, 0}};
    fr_mont(&xm, x, &R2);
    for (Py_ssize_t i = 0; i < n; i++) {
        fr fm;
        fr_mont(&fm, &f[i], &R2);
        fr_sub(&d[i], &xm, &fm);
    }
    fr_mont(&onem, &one, &R2);
    acc = onem;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!fr_is_zero(&d[i])) fr_mont(&acc, &acc, &d[i]);
        pre[i] = acc;
    }
    { /* inv = acc^(r-2), square-and-multiply over the exponent's bits */
        uint64_t e[4] = {RM[0] - 2, RM[1], RM[2], RM[3]};
        inv = onem;
        for (int w = 3; w >= 0; w--)
            for (int b = 63; b >= 0; b--) {
                fr_mont(&inv, &inv, &inv);
                if ((e[w] >> b) & 1) fr_mont(&inv, &inv, &acc);
            }
    }
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        fr r = {{0, 0, 0, 0}};
        if (!fr_is_zero(&d[i])) {
            fr before = i ? pre[i - 1] : onem;
            fr_mont(&t, &inv, &before); /* 1 / d_i (Montgomery) */
            fr_mont(&inv, &inv, &d[i]);
            fr_mont(&r, &t, &m[i]); /* m_i / d_i, canonical (m_i is canonical) */
        }
        out[i] = r;
    }
    free(d); free(pre);
    return 0;
}

static PyObject *py_logup_fractions(PyObject *self, PyObject *args) {
    PyObject *xo, *seq;
    if (!PyArg_ParseTuple(args, "OO", &xo, &seq)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "v must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n2 = PySequence_Fast_GET_SIZE(fast);
    if (n2 % 2) { Py_DECREF(fast); PyErr_SetString(PyExc_ValueError, "v must hold (f, m) pairs"); return NULL; }
    Py_ssize_t n = n2 / 2;
    PyObject **items = PySequence_Fast_ITEMS(fast);
    fr x, *f = malloc(sizeof(fr) * (size_t)(n ? n : 1)), *m = malloc(sizeof(fr) * (size_t)(n ? n : 1)),
          *r = malloc(sizeof(fr) * (size_t)(n ? n : 1));
    PyObject *out = NULL;
    if (!f || !m || !r) { PyErr_NoMemory(); goto done; }
    if (fr_from_long(xo, &x) < 0) goto done;
    for (Py_ssize_t i = 0; i < n; i++)
        if (fr_from_long(items[2 * i], &f[i]) < 0 || fr_from_long(items[2 * i + 1], &m[i]) < 0) goto done;
    if (fractions(&x, f, m, n, r) < 0) { PyErr_NoMemory(); goto done; }
    out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *o = fr_to_long(&r[i]);
        if (!o) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, o);
    }
done:
    free(f); free(m); free(r);
    Py_DECREF(fast);
    return out;
}

/* rounds(capsule, units) -> (rounds, costs): the schedule of one block of witness units (circuits/witness_parallel.py,
 * whose Python reference this mirrors). units: int64 [first step, end step, first signal, end signal] per unit,
 * consecutive. Per step of the block: its round (uint8, capped at 255) = the highest over its input terms of the
 * round of the signal's step (own unit) or that round + 1 (another unit of the block); signals made before the
 * block count 0. Its cost (uint32): the input terms, + 1 for a product or a copy, + py_cost for a Python hint. */
static PyObject *py_rounds(PyObject *self, PyObject *args) {
    PyObject *cap;
    Py_buffer ub;
    unsigned int py_cost;
    if (!PyArg_ParseTuple(args, "Oy*I", &cap, &ub, &py_cost)) return NULL;
    wprog *p = PyCapsule_GetPointer(cap, "zkmargin.witness");
    const int64_t *u = ub.buf;
    Py_ssize_t nu = ub.len / 32;
    PyObject *out = NULL;
    if (!p || nu < 1) { if (p) PyErr_SetString(PyExc_ValueError, "no units"); PyBuffer_Release(&ub); return NULL; }
    int64_t s0 = u[0], s1 = u[4 * (nu - 1) + 1], lo = u[2], hi = u[4 * (nu - 1) + 3];
    if (s0 < 0 || s1 > p->n_steps || s0 > s1 || lo < 0 || hi > p->n_signals || lo > hi) {
        PyErr_SetString(PyExc_ValueError, "units out of range"); PyBuffer_Release(&ub); return NULL;
    }
    uint8_t *rnd = calloc((size_t)(hi - lo) + 1, 1), *rs = malloc((size_t)(s1 - s0) + 1);
    uint32_t *cost = malloc(sizeof(uint32_t) * ((size_t)(s1 - s0) + 1));
    if (!rnd || !rs || !cost) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t q = 0; q < nu; q++) {
        int64_t a = u[4 * q], b = u[4 * q + 1], ulo = u[4 * q + 2], uhi = u[4 * q + 3];
        if (a < s0 || b > s1 || a > b) { PyErr_SetString(PyExc_ValueError, "units out of range"); goto done; }
        for (int64_t k = a; k < b; k++) {
            unsigned r = 0;
            uint64_t terms = 0;
            for (uint64_t lc = p->in_off[k]; lc < p->in_off[k + 1]; lc++)
                for (uint64_t t = p->lc_off[lc]; t < p->lc_off[lc + 1]; t++) {
                    int64_t sg = p->t_sig[t];
                    terms++;
                    if (sg < lo || sg >= hi) continue;
                    unsigned x = rnd[sg - lo] + ((sg >= ulo && sg < uhi) ? 0u : 1u);
                    if (x > r) r = x;
                }
            if (r > 255) r = 255;
            for (uint64_t o = p->out_off[k]; o < p->out_off[k + 1]; o++) {
                int64_t sg = p->outs[o];
                if (sg >= lo && sg < hi) rnd[sg - lo] = (uint8_t)r;
            }
            rs[k - s0] = (uint8_t)r;
            uint64_t c = terms + (p->kind[k] == K_PYTHON ? py_cost : 1u);
            cost[k - s0] = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
        }
    }
    out = Py_BuildValue("(y#y#)", (const char *)rs, (Py_ssize_t)(s1 - s0), (const char *)cost, (Py_ssize_t)(4 * (s1 - s0)));
done:
    free(rnd); free(rs); free(cost);
    PyBuffer_Release(&ub);
    return out;
}

/* stats(capsule) -> (steps, LCs, terms, outputs, distinct coefficients, bytes held) */
static PyObject *py_stats(PyObject *self, PyObject *cap) {
    wprog *p = PyCapsule_GetPointer(cap, "zkmargin.witness");
    if (!p) return NULL;
    Py_ssize_t bytes = p->n_steps * (1 + 16) + p->n_lcs * 8 + p->n_terms * 8 + p->n_outs * 4 + p->n_coefs * 32;
    return Py_BuildValue("(nnnnnn)", p->n_steps, p->n_lcs, p->n_terms, p->n_outs, p->n_coefs, bytes);
}

static PyMethodDef methods[] = {
    {"encode", py_encode, METH_VARARGS, "encode(program, product_fn, copy_fn, n_signals, split_type) -> capsule"},
    {"run", py_run, METH_VARARGS, "run(capsule, program, values, steps, lo, hi, product_fn, copy_fn, py_step, split_types)"},
    {"to_list", py_to_list, METH_VARARGS, "to_list(values, order) -> list of ints"},
    {"logup_fractions", py_logup_fractions, METH_VARARGS, "logup_fractions(x, (f0, m0, f1, m1, ...)) -> list"},
    {"run_threads", py_run_threads, METH_VARARGS, "run_threads(capsule, program, values, chunks, product_fn, copy_fn, py_step, split_types)"},
    {"rounds", py_rounds, METH_VARARGS, "rounds(capsule, units, py_cost) -> (rounds uint8, costs uint32) per step"},
    {"stats", py_stats, METH_O, "stats(capsule) -> (steps, lcs, terms, outputs, coefficients, bytes)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_witness", "the witness program's loop in C", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__witness(void) { return PyModule_Create(&module); }
