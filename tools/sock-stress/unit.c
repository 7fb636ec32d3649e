/* unit.c: sock-stress's pure parts on the build machine: SHA-256 on FIPS 180's vectors, options, URLs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>

#include "vsc.h"
#include "sha256.h"
#include "stress.h"

static void hex(const uint8_t *d, char out[2 * SHA256_DIGEST_SIZE + 1])
{
	int i;

	for (i = 0; i < SHA256_DIGEST_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Hashes text fed in pieces of `step` bytes (every step must give the same digest). */
static void check_digest(const char *text, size_t len, size_t step, const char *want)
{
	struct sha256 h;
	uint8_t d[SHA256_DIGEST_SIZE];
	char got[2 * SHA256_DIGEST_SIZE + 1];
	size_t at;

	sha256_init(&h);
	for (at = 0; at < len; at += step)
		sha256_update(&h, text + at, len - at < step ? len - at : step);
	sha256_final(&h, d);
	hex(d, got);
	if (strcmp(got, want) != 0)
		vsc_fail_at(__FILE__, __LINE__, "SHA-256 of %zu bytes in steps of %zu: %s, want %s",
			    len, step, got, want);
}

static void fips_vectors(const struct vsc_env *env)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char four_blocks[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
					  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	static char million_a[1000000];
	size_t steps[] = { 1, 3, 63, 64, 65, 1000000 };
	size_t i;

	(void)env;
	memset(million_a, 'a', sizeof(million_a));
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		check_digest("abc", 3, steps[i],
			     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		check_digest("", 0, steps[i],
			     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		check_digest(two_blocks, strlen(two_blocks), steps[i],
			     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
		check_digest(four_blocks, strlen(four_blocks), steps[i],
			     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	}
	check_digest(million_a, sizeof(million_a), 4096,
		     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
VSC_CASE(sock_stress_sha256_fips, .summary = "SHA-256 gives FIPS 180's digests for abc, the empty, two- and four-block messages and a million a's, in any pieces",
	 .run = fips_vectors);

static int parse(struct stress_options *o, char *err, size_t size, ...)
{
	char *argv[32] = { "sock-stress" };
	int argc = 1;
	va_list ap;

	va_start(ap, size);
	while ((argv[argc] = va_arg(ap, char *)) != NULL && argc < 31)
		argc++;
	va_end(ap);
	return stress_parse_options(argc, argv, o, err, size);
}

static void options(const struct vsc_env *env)
{
	struct stress_options o;
	char err[256];

	(void)env;
	ASSERT_EQ(parse(&o, err, sizeof(err), "-c", "vsock://1:80", NULL), 0);
	/* sock_stress's defaults. */
	EXPECT_EQ(o.connections, 100);
	EXPECT_EQ(o.parallel, 1);
	EXPECT_EQ(o.min_len, 0);
	EXPECT_EQ(o.max_len, 65536);
	EXPECT_EQ(o.min_chunk, 16384);
	EXPECT_EQ(o.max_chunk, 16384);
	EXPECT_EQ(o.server, 0);
	ASSERT_EQ(parse(&o, err, sizeof(err), "-s", "vsock", "-i", "7", "-p", "3", "-L", "10", "-l",
			"20", "-B", "1", "-b", "5", "-w", "1", "-e", "-v", "2", "-t", "30", NULL), 0);
	EXPECT_EQ(o.server, 1);
	EXPECT_EQ(o.count_given, 1);
	EXPECT_EQ(o.connections, 7);
	EXPECT_EQ(o.parallel, 3);
	EXPECT_EQ(o.min_len + o.max_len, 30);
	EXPECT_EQ(o.min_chunk + o.max_chunk, 6);
	EXPECT_EQ(o.exit_on_error + o.wait_s + o.verbose, 4);
	EXPECT_EQ(o.time_limit_s, 30);
	EXPECT_EQ(parse(&o, err, sizeof(err), "-c", "vsock://1:80", "-b", "100", NULL), -1);
	EXPECT_TRUE(strstr(err, "-B") != NULL);
	EXPECT_EQ(parse(&o, err, sizeof(err), "-c", "vsock://1:80", "-i", "0", NULL), -1);
	EXPECT_TRUE(strstr(err, "-i 0") != NULL);
	EXPECT_EQ(parse(&o, err, sizeof(err), "-c", "vsock://1:80", "-b", "1000000000", NULL), -1);
	EXPECT_TRUE(strstr(err, "to 67108864") != NULL);
	EXPECT_EQ(parse(&o, err, sizeof(err), "-c", "vsock://1:80", "-l", "99999999999999999999", NULL), -1);
	EXPECT_EQ(parse(&o, err, sizeof(err), "-c", "vsock://1:80", "-p", NULL), -1);
	EXPECT_TRUE(strstr(err, "-p needs") != NULL);
	EXPECT_EQ(parse(&o, err, sizeof(err), "-i", "3", NULL), -1);
	EXPECT_EQ(parse(&o, err, sizeof(err), "-c", "a", "-s", "b", NULL), -1);
	EXPECT_EQ(parse(&o, err, sizeof(err), "--help", NULL), 1);
}
VSC_CASE(sock_stress_options, .summary = "sock-stress takes sock_stress's options with its defaults and names a bad one",
	 .run = options);

static void addresses(const struct vsc_env *env)
{
	struct stress_addr a;
	struct sockaddr_vm *vm = (struct sockaddr_vm *)&a.sa;
	struct sockaddr_un *un = (struct sockaddr_un *)&a.sa;
	char err[256];

	(void)env;
	ASSERT_EQ(stress_parse_addr("vsock", 1, &a, err, sizeof(err)), 0);
	EXPECT_EQ(vm->svm_cid, VMADDR_CID_ANY);
	EXPECT_EQ(vm->svm_port, 0x5653);
	ASSERT_EQ(stress_parse_addr("vsock://2", 0, &a, err, sizeof(err)), 0);
	EXPECT_EQ(vm->svm_cid, 2);
	EXPECT_EQ(vm->svm_port, 0x5653);
	ASSERT_EQ(stress_parse_addr("vsock://3:1234", 0, &a, err, sizeof(err)), 0);
	EXPECT_EQ(vm->svm_cid + vm->svm_port, 1237);
	EXPECT_EQ(stress_parse_addr("vsock://:1234", 0, &a, err, sizeof(err)), -1);
	EXPECT_TRUE(strstr(err, "needs a CID") != NULL);
	ASSERT_EQ(stress_parse_addr("hvsock://parent", 0, &a, err, sizeof(err)), 0);
	EXPECT_EQ(vm->svm_cid, 2);
	EXPECT_EQ(vm->svm_port, 0x3049197c);
	ASSERT_EQ(stress_parse_addr("hvsock://loopback:00000050-facb-11e6-bd58-64006a7986d3", 0, &a,
				    err, sizeof(err)), 0);
	EXPECT_EQ(vm->svm_cid + vm->svm_port, 1 + 80);
	ASSERT_EQ(stress_parse_addr("unix:/tmp/x.sock", 1, &a, err, sizeof(err)), 0);
	EXPECT_EQ(a.family, AF_UNIX);
	EXPECT_TRUE(strcmp(un->sun_path, "/tmp/x.sock") == 0);
	ASSERT_EQ(stress_parse_addr("unix:///tmp/y.sock", 0, &a, err, sizeof(err)), 0);
	EXPECT_TRUE(strcmp(un->sun_path, "/tmp/y.sock") == 0);
	EXPECT_EQ(stress_parse_addr("unix:", 0, &a, err, sizeof(err)), -1);
	EXPECT_TRUE(strstr(err, "no path") != NULL);
	EXPECT_EQ(stress_parse_addr("vsock://1:8x", 0, &a, err, sizeof(err)), -1);
	EXPECT_TRUE(strstr(err, "vsock://1:8x") != NULL);
	EXPECT_EQ(stress_parse_addr("tcp://1.2.3.4:5", 0, &a, err, sizeof(err)), -1);
}
VSC_CASE(sock_stress_addresses, .summary = "sock-stress URLs: sock_stress's bare-scheme defaults, vsock, hvsock, unix:PATH, errors naming the URL",
	 .run = addresses);
