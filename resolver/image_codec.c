// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The table on disk: protobuf-c pack/unpack of cpuport.Image, and the
 * structural validation every decoded image passes before use.  Addresses
 * are checked again against the destination's files (verify.c); here we make
 * sure every index and size is consistent so later code can trust them.
 * Which kinds exist and how large their records may be: the registry (kinds.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kinds.h"

/*
 * Caps for an image read back: its size on disk, and the memory its
 * decoded messages may take (protobuf-c allocates a message per repeated
 * entry: a 2-byte entry can cost 50).  Real images are well under 1 MiB
 * per process (python3 with 61 objects: ~200 KiB).
 */
#define MAX_IMAGE_SIZE (64u << 20)
#define MAX_DECODED (256u << 20)

int cpu_desc_to_image(struct arena *a, const struct cpu_desc *d, Cpuport__Cpu **out)
{
	Cpuport__Cpu *c = arena_alloc(a, sizeof(*c));
	size_t nf = 0;

	if (!c)
		return -ENOMEM;
	cpuport__cpu__init(c);
	c->vendor = arena_strdup(a, d->vendor);
	c->brand = arena_strdup(a, d->brand);
	c->codename = arena_strdup(a, d->codename);
	c->has_family = c->has_model = c->has_stepping = c->has_level = c->has_xcr0 = true;
	c->family = d->family, c->model = d->model, c->stepping = d->stepping;
	c->level = d->level;
	c->xcr0 = d->xcr0;
	c->features = arena_alloc(a, F__COUNT * sizeof(char *));
	c->leaves = arena_alloc(a, (d->n_raw + 1) * sizeof(*c->leaves));
	if (!c->features || !c->leaves)
		return -ENOMEM;
	for (int f = 0; f < F__COUNT; f++)
		if (featset_has(&d->feat, f))
			c->features[nf++] = (char *)feature_name(f);
	c->n_features = nf;
	for (size_t i = 0; i < d->n_raw; i++) {
		Cpuport__CpuidLeaf *l = arena_alloc(a, sizeof(*l));

		if (!l)
			return -ENOMEM;
		cpuport__cpuid_leaf__init(l);
		l->leaf = d->raw[i].leaf, l->subleaf = d->raw[i].subleaf;
		l->eax = d->raw[i].eax, l->ebx = d->raw[i].ebx, l->ecx = d->raw[i].ecx, l->edx = d->raw[i].edx;
		c->leaves[c->n_leaves++] = l;
	}
	*out = c;
	return 0;
}

int cpuport_table__encode(const struct cpuport_table *table, void **buf, size_t *len)
{
	size_t n = cpuport__image__get_packed_size(table->img);
	void *b = malloc(n ? n : 1);

	if (!b)
		return set_errno(-ENOMEM);
	cpuport__image__pack(table->img, b);
	*buf = b;
	*len = n;
	return 0;
}

static bool location_ok(const Cpuport__Image *img, const Cpuport__Location *l)
{
	const Cpuport__Object *o;

	if (!l)
		return true;
	if (l->object >= img->n_objects)
		return false;
	o = img->objects[l->object];
	return o->load_base + l->offset >= o->start && o->load_base + l->offset < o->end;
}

/* Is [base+off, base+off+size) inside the object's recorded mapping span? */
static bool span_ok(const Cpuport__Image *img, uint32_t obj, uint64_t off, uint64_t size)
{
	const Cpuport__Object *o;
	uint64_t a;

	if (obj >= img->n_objects)
		return false;
	o = img->objects[obj];
	a = o->load_base + off;
	return a >= o->start && size <= o->end - o->start && a <= o->end - size;
}

static const char *validate(const Cpuport__Image *img)
{
	for (size_t i = 0; i < img->n_objects; i++) {
		const Cpuport__Object *o = img->objects[i];

		if (!o->has_start || !o->has_end || o->start >= o->end || !o->path[0])
			return "object without a mapping";
		if (o->has_build_id && o->build_id.len > 64)
			return "object build-id too long";
	}
	for (size_t i = 0; i < img->n_slots; i++) {
		const Cpuport__Slot *s = img->slots[i];

		if (!kind_of_slot(s->kind))
			return "unknown slot kind";
		if (!span_ok(img, s->object, s->offset, 8))
			return "slot outside its object";
		if (!location_ok(img, s->resolver) || !location_ok(img, s->target))
			return "slot resolver or target outside its object";
		if (s->kind != CPUPORT__SLOT_KIND__IRELATIVE && !s->symbol)
			return "symbolic slot without a symbol";
	}
	for (size_t i = 0; i < img->n_states; i++) {
		const Cpuport__State *s = img->states[i];
		const struct cpuport_kind *k = kind_of_state(s->kind);

		if (!k)
			return "unknown state kind";
		if (!s->size || s->size > k->max_size || !span_ok(img, s->object, s->offset, s->size))
			return "state outside its object";
		if (s->has_value && s->value.len != s->size)
			return "state value of the wrong size";
		if (!location_ok(img, s->target))
			return "state target outside its object";
	}
	for (size_t i = 0; i < img->n_threads; i++)
		if (!location_ok(img, img->threads[i]->at))
			return "thread location outside its object";
	for (const struct cpuport_kind *const *k = cpuport_kinds; *k; k++) {
		const char *why = (*k)->validate ? (*k)->validate(img) : NULL;

		if (why)
			return why;
	}
	return NULL;
}

int cpuport_table__decode(struct cpuport_ctx *ctx, const void *buf, size_t len, struct cpuport_table **out)
{
	struct cpuport_table *t = calloc(1, sizeof(*t));
	ProtobufCAllocator alloc;
	const char *why;

	*out = NULL;
	if (!t)
		return set_errno(-ENOMEM);
	/* a small image can unpack into many small messages: bound what it may cost */
	t->arena.limit = MAX_DECODED;
	t->img = cpuport__image__unpack(arena_pb_allocator(&t->arena, &alloc), len, buf);
	if (!t->img) {
		log_err(ctx, "cpuport image is corrupt or truncated (%zu bytes)\n", len);
		cpuport_table__free(t);
		return set_errno(-EBADMSG);
	}
	if (t->img->version > CPUPORT_IMAGE_VERSION) {
		log_err(ctx, "cpuport image format %u is newer than this cpuport (%u): upgrade cpuport\n",
			t->img->version, CPUPORT_IMAGE_VERSION);
		cpuport_table__free(t);
		return set_errno(-EPROTONOSUPPORT);
	}
	why = validate(t->img);
	if (why) {
		log_err(ctx, "cpuport image is inconsistent: %s\n", why);
		cpuport_table__free(t);
		return set_errno(-EBADMSG);
	}
	*out = t;
	return 0;
}

int cpuport_table__read_fd(struct cpuport_ctx *ctx, int fd, struct cpuport_table **out)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap), *nb;
	ssize_t r;
	int ret;

	*out = NULL;
	if (!buf)
		return set_errno(-ENOMEM);
	while ((r = read(fd, buf + len, cap - len)) > 0) {
		len += r;
		if (len == cap) {
			if (cap >= MAX_IMAGE_SIZE) {
				free(buf);
				return set_errno(-EFBIG);
			}
			nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				return set_errno(-ENOMEM);
			}
			buf = nb;
		}
	}
	ret = r < 0 ? -errno : cpuport_table__decode(ctx, buf, len, out);
	free(buf);
	return set_errno(ret);
}

int cpuport_table__write_fd(const struct cpuport_table *table, int fd)
{
	void *buf = NULL;
	size_t len = 0, done = 0;
	int ret = cpuport_table__encode(table, &buf, &len);

	while (!ret && done < len) {
		ssize_t w = write(fd, (char *)buf + done, len - done);

		if (w < 0)
			ret = -errno;
		else
			done += w;
	}
	free(buf);
	return set_errno(ret);
}
