// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Small public-API contracts from the module review: image names are spelled
 * and recognised in one place; output structs carry sz and are filled only
 * that far (no sz: -EINVAL, nothing touched); fault injection comes from the
 * options, never from the library reading the environment; the default
 * helper path is the build's.
 */
#include "unit.h"
#include "internal.h"

static void image_names(void **state)
{
	static const char *const bad[] = {
		"cpuport-42.img.bak", "cpuport-042.img", "cpuport-+42.img", "cpuport- 42.img", "cpuport-0.img",
		"cpuport--1.img", "cpuport-x.img", "xcpuport-1.img", "cpuport-1.im", "cpuport-.img",
		"cpuport-99999999999.img", "",
	};
	char name[32];
	pid_t id = 0;

	(void)state;
	assert_int_equal(cpuport_image_name(42, name, sizeof(name)), 0);
	assert_string_equal(name, "cpuport-42.img");
	assert_true(cpuport_image_name_parse(name, &id));
	assert_int_equal(id, 42);
	assert_true(cpuport_image_name_parse("cpuport-2147483647.img", NULL));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		print_message("%s\n", bad[i]);
		assert_false(cpuport_image_name_parse(bad[i], &id));
	}
	assert_int_equal(cpuport_image_name(42, name, 8), -ENAMETOOLONG);
}

static void stats_filled_up_to_sz(void **state)
{
	struct cpuport_table *t = table_new();
	struct cpuport_table_stats none = { 0 }, part, full;

	(void)state;
	assert_non_null(t);
	t->img->relocs_seen = 7;
	t->img->scan_ns = 9;
	errno = 0;
	assert_int_equal(cpuport_table__stats(t, &none), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(none.relocs, 0);

	memset(&part, 0xff, sizeof(part));
	part.sz = offsetofend(struct cpuport_table_stats, objects);
	assert_int_equal(cpuport_table__stats(t, &part), 0);
	assert_int_equal(part.objects, 0);
	assert_int_equal(part.relocs, UINT32_MAX);	/* past its sz: untouched */

	memset(&full, 0xff, sizeof(full));
	full.sz = sizeof(full);
	assert_int_equal(cpuport_table__stats(t, &full), 0);
	assert_int_equal(full.relocs, 7);
	assert_int_equal(full.scan_ns, 9);
	assert_int_equal(full.sz, sizeof(full));
	cpuport_table__free(t);
}

static void restore_stats_need_sz(void **state)
{
	struct cpuport_ctx *ctx = cpuport_ctx__new(NULL);
	struct cpuport_table *t = table_new();
	struct cpuport_restore_stats st = { 0 };

	(void)state;
	assert_non_null(ctx);
	assert_non_null(t);
	/* refused before the process is opened: this very process is never touched */
	assert_int_equal(cpuport_restore(ctx, getpid(), t, &st), -EINVAL);
	assert_int_equal(errno, EINVAL);
	cpuport_table__free(t);
	cpuport_ctx__free(ctx);
}

static void faults_from_options_only(void **state)
{
	CPUPORT_OPTS(cpuport_ctx_opts, o, .faults = "write,nomem");
	struct cpuport_ctx *ctx;

	(void)state;
	setenv("CPUPORT_FAULT", "helper-crash,write,nomem", 1);
	ctx = cpuport_ctx__new(NULL);
	assert_non_null(ctx);
	assert_int_equal(ctx->faults, 0);
	cpuport_ctx__free(ctx);
	ctx = cpuport_ctx__new(&o);
	assert_non_null(ctx);
	assert_int_equal(ctx->faults, FAULT_WRITE | FAULT_NOMEM);
	cpuport_ctx__free(ctx);
	unsetenv("CPUPORT_FAULT");
}

static void helper_path_default_and_override(void **state)
{
	CPUPORT_OPTS(cpuport_ctx_opts, o, .helper_path = "/opt/x/cpuport-select");
	struct cpuport_ctx *ctx = cpuport_ctx__new(NULL);

	(void)state;
	assert_non_null(ctx);
	assert_string_equal(cpuport_ctx__helper_path(ctx), CPUPORT_HELPER_PATH);
	cpuport_ctx__free(ctx);
	ctx = cpuport_ctx__new(&o);
	assert_non_null(ctx);
	assert_string_equal(cpuport_ctx__helper_path(ctx), "/opt/x/cpuport-select");
	cpuport_ctx__free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(image_names),
		cmocka_unit_test(stats_filled_up_to_sz),
		cmocka_unit_test(restore_stats_need_sz),
		cmocka_unit_test(faults_from_options_only),
		cmocka_unit_test(helper_path_default_and_override),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
