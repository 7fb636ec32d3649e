// SPDX-License-Identifier: GPL-2.0
/*
 * vsc_probe: lets vsockcheck's kmod cases ask the kernel's own vsock tables about an address.
 *
 * /proc/vsockcheck/info       "module vsc_probe" and "release <uname -r it was built for>"
 * /proc/vsockcheck/bound      write "CID PORT", read back "bound" or "not bound": whether
 *                             vsock_find_bound_socket() finds a socket bound to that address
 * /proc/vsockcheck/connected  write "LOCAL_CID LOCAL_PORT REMOTE_CID REMOTE_PORT", read back
 *                             "connected" or "not connected" (vsock_find_connected_socket())
 *
 * Each open file keeps its own answer, so concurrent askers never read each other's; a
 * question resets the file position, so write + read on one descriptor needs no seek.
 * Both lookups exist with this signature from 5.10 to 7.2: no version checks are needed.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <generated/utsrelease.h>
/* 5.10's af_vsock.h uses struct sock without including its definition. */
#include <net/sock.h>
#include <net/af_vsock.h>

#define QUERY_MAX 64	/* longest accepted question, with its newline */

enum answer { NO_QUESTION, FOUND, NOT_FOUND };

struct query {
	enum answer answer;
	const char *found_text;
	const char *not_found_text;
};

static struct proc_dir_entry *probe_dir;

static int info_show(struct seq_file *m, void *v)
{
	seq_puts(m, "module vsc_probe\n");
	seq_printf(m, "release %s\n", UTS_RELEASE);
	return 0;
}

/* The words of a question, as unsigned 32-bit numbers; exactly `count` of them or -EINVAL. */
static int parse_words(const char __user *ubuf, size_t len, u32 *words, int count)
{
	char buf[QUERY_MAX];
	char *cursor, *word;
	int n = 0;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	cursor = strim(buf);
	while ((word = strsep(&cursor, " \t")) != NULL) {
		if (*word == '\0')
			continue;
		if (n == count || kstrtou32(word, 0, &words[n]))
			return -EINVAL;
		n++;
	}
	return n == count ? 0 : -EINVAL;
}

/* Each lookup takes vsock_table_lock and returns the socket with a reference held: drop it. */
static enum answer found(struct sock *sk)
{
	if (!sk)
		return NOT_FOUND;
	sock_put(sk);
	return FOUND;
}

static ssize_t bound_write(struct file *file, const char __user *ubuf, size_t len, loff_t *pos)
{
	struct query *q = file->private_data;
	struct sockaddr_vm addr;
	u32 words[2];
	int err = parse_words(ubuf, len, words, 2);

	if (err)
		return err;
	vsock_addr_init(&addr, words[0], words[1]);
	q->answer = found(vsock_find_bound_socket(&addr));
	*pos = 0;	/* the answer is read from its start, without a seek */
	return len;
}

static ssize_t connected_write(struct file *file, const char __user *ubuf, size_t len, loff_t *pos)
{
	struct query *q = file->private_data;
	struct sockaddr_vm local, remote;
	u32 words[4];
	int err = parse_words(ubuf, len, words, 4);

	if (err)
		return err;
	vsock_addr_init(&local, words[0], words[1]);
	vsock_addr_init(&remote, words[2], words[3]);
	/* The table is keyed the way a transport sees a packet: src = the peer, dst = us. */
	q->answer = found(vsock_find_connected_socket(&remote, &local));
	*pos = 0;
	return len;
}

static ssize_t query_read(struct file *file, char __user *ubuf, size_t len, loff_t *pos)
{
	struct query *q = file->private_data;
	char text[32];
	int n;

	if (q->answer == NO_QUESTION)
		return -ENODATA;
	n = scnprintf(text, sizeof(text), "%s\n",
		      q->answer == FOUND ? q->found_text : q->not_found_text);
	return simple_read_from_buffer(ubuf, len, pos, text, n);
}

static int query_open(struct file *file, const char *found_text, const char *not_found_text)
{
	struct query *q = kzalloc(sizeof(*q), GFP_KERNEL);

	if (!q)
		return -ENOMEM;
	q->answer = NO_QUESTION;
	q->found_text = found_text;
	q->not_found_text = not_found_text;
	file->private_data = q;
	return 0;
}

static int bound_open(struct inode *inode, struct file *file)
{
	return query_open(file, "bound", "not bound");
}

static int connected_open(struct inode *inode, struct file *file)
{
	return query_open(file, "connected", "not connected");
}

static int query_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

static const struct proc_ops bound_ops = {
	.proc_open = bound_open,
	.proc_read = query_read,
	.proc_write = bound_write,
	.proc_release = query_release,
};

static const struct proc_ops connected_ops = {
	.proc_open = connected_open,
	.proc_read = query_read,
	.proc_write = connected_write,
	.proc_release = query_release,
};

static int __init probe_init(void)
{
	probe_dir = proc_mkdir("vsockcheck", NULL);
	if (!probe_dir)
		return -ENOMEM;
	if (!proc_create_single("info", 0444, probe_dir, info_show) ||
	    !proc_create("bound", 0600, probe_dir, &bound_ops) ||
	    !proc_create("connected", 0600, probe_dir, &connected_ops)) {
		proc_remove(probe_dir);
		return -ENOMEM;
	}
	return 0;
}

static void __exit probe_exit(void)
{
	proc_remove(probe_dir);
}

module_init(probe_init);
module_exit(probe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vsockcheck: ask the kernel's vsock tables whether an address is bound or connected");
