// SPDX-License-Identifier: GPL-2.0
/*
 * vmpolice-queues: ask the vmpolice module's generic netlink family for
 * every queue of one policer (VMPOLICE_CMD_QUEUE_GET, a dump), in the
 * caller's network namespace, and report what came back:
 *
 *   vmpolice-queues index N             an action
 *   vmpolice-queues dev IFNAME handle H a qdisc (H in hex, "1" for 1:)
 *   vmpolice-queues index N dev IFNAME handle H   (refused: both)
 *   vmpolice-queues                     (refused: neither)
 *
 * Output, one line: "queues Q messages M ids FIRST..LAST contiguous|gaps",
 * or on a refusal "error ERRNO: EXTACK-MESSAGE" (exit status 1).
 *
 * The netlink side is libmnl's: the socket, the messages, the family id
 * (CTRL_CMD_GETFAMILY) and the attribute walks.  libmnl has no helper
 * for the extended ack, so its NLMSGERR_ATTR_MSG is parsed here, after
 * the struct nlmsgerr of an error or after the errno of a NLMSG_DONE: a
 * dump's refusal arrives in the NLMSG_DONE (so on 6.1 too), a refused
 * request in an NLMSG_ERROR.
 */

#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/tc_vmpolice.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* as large as before: the kernel sizes a dump's messages by our reads */
static char buf[65536];

struct count {
	unsigned int queues, messages, first, last;
	bool gaps;
};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* The first attribute of each type up to @max, libmnl's usual table. */
struct table {
	const struct nlattr **tb;
	unsigned int max;
};

static int table_cb(const struct nlattr *a, void *data)
{
	struct table *t = data;
	unsigned int type = mnl_attr_get_type(a);

	if (type <= t->max && !t->tb[type])
		t->tb[type] = a;
	return MNL_CB_OK;
}

/* A refusal: ERRNO and the extack text in the TLVs from @off; exits. */
static void refused(const struct nlmsghdr *n, int err, unsigned int off)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
	struct table t = { tb, NLMSGERR_ATTR_MAX };
	const char *msg = "(no message)";

	if (n->nlmsg_flags & NLM_F_ACK_TLVS &&
	    mnl_attr_parse(n, off, table_cb, &t) >= 0 &&
	    tb[NLMSGERR_ATTR_MSG] &&
	    mnl_attr_validate(tb[NLMSGERR_ATTR_MSG], MNL_TYPE_NUL_STRING) >= 0)
		msg = mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]);
	printf("error %d: %s\n", err, msg);
	exit(1);
}

static int error_cb(const struct nlmsghdr *n, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(n);
	unsigned int off = sizeof(*e);

	(void)data;
	if (n->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!e->error)
		return MNL_CB_STOP;
	/* the request echoed in full unless capped, then the TLVs */
	if (!(n->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	refused(n, e->error, off);
	return MNL_CB_ERROR;
}

static int done_cb(const struct nlmsghdr *n, void *data)
{
	int err = 0;

	(void)data;
	if (n->nlmsg_len >= mnl_nlmsg_size(sizeof(err)))
		memcpy(&err, mnl_nlmsg_get_payload(n), sizeof(err));
	if (!err)
		return MNL_CB_STOP;
	/* a refusal from a dump call: its message after the errno */
	refused(n, err, sizeof(err));
	return MNL_CB_ERROR;
}

static mnl_cb_t ctl_cb[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR]	= error_cb,
	[NLMSG_DONE]	= done_cb,
};

/* Send @n, run @cb on the replies until the dump's end (or one read). */
static void talk(struct mnl_socket *nl, struct nlmsghdr *n, mnl_cb_t cb,
		 void *data)
{
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t len;
	int ret;

	if (mnl_socket_sendto(nl, n, n->nlmsg_len) < 0)
		die("send");
	do {
		len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0)
			die("recv");
		ret = mnl_cb_run2(buf, len, n->nlmsg_seq, portid, cb, data,
				  ctl_cb, ARRAY_SIZE(ctl_cb));
		if (ret < 0)
			die("netlink");
	} while (ret > 0 && n->nlmsg_flags & NLM_F_DUMP);
}

static int family_cb(const struct nlmsghdr *n, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { NULL };
	struct table t = { tb, CTRL_ATTR_MAX };
	int *family = data;

	mnl_attr_parse(n, sizeof(struct genlmsghdr), table_cb, &t);
	if (tb[CTRL_ATTR_FAMILY_ID] &&
	    mnl_attr_validate(tb[CTRL_ATTR_FAMILY_ID], MNL_TYPE_U16) >= 0)
		*family = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	return MNL_CB_OK;
}

/* One TCA_VMPOLICE_QUEUE: counted when it has an id and stats. */
static int queue_cb(const struct nlattr *q, void *data)
{
	const struct nlattr *tb[TCA_VMPOLICE_QUEUE_MAX + 1] = { NULL };
	struct table t = { tb, TCA_VMPOLICE_QUEUE_MAX };
	struct count *c = data;
	unsigned int v;

	if (mnl_attr_get_type(q) != TCA_VMPOLICE_QUEUE)
		return MNL_CB_OK;
	mnl_attr_parse_nested(q, table_cb, &t);
	if (!tb[TCA_VMPOLICE_QUEUE_ID] || !tb[TCA_VMPOLICE_QUEUE_STATS] ||
	    mnl_attr_validate(tb[TCA_VMPOLICE_QUEUE_ID], MNL_TYPE_U32) < 0)
		return MNL_CB_OK;
	v = mnl_attr_get_u32(tb[TCA_VMPOLICE_QUEUE_ID]);
	if (!c->queues)
		c->first = v;
	else if (v != c->last + 1)
		c->gaps = true;
	c->last = v;
	c->queues++;
	return MNL_CB_OK;
}

static int dump_cb(const struct nlmsghdr *n, void *data)
{
	const struct nlattr *tb[VMPOLICE_A_MAX + 1] = { NULL };
	struct table t = { tb, VMPOLICE_A_MAX };
	struct count *c = data;

	c->messages++;
	mnl_attr_parse(n, sizeof(struct genlmsghdr), table_cb, &t);
	if (tb[VMPOLICE_A_QUEUES])
		mnl_attr_parse_nested(tb[VMPOLICE_A_QUEUES], queue_cb, c);
	return MNL_CB_OK;
}

/* A generic netlink request to @type, @cmd in @req. */
static struct nlmsghdr *genl_put(char *req, int type, int flags,
				 unsigned int seq, int cmd, int version)
{
	struct nlmsghdr *n = mnl_nlmsg_put_header(req);
	struct genlmsghdr *g;

	n->nlmsg_type = type;
	n->nlmsg_flags = NLM_F_REQUEST | flags;
	n->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(n, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return n;
}

int main(int argc, char **argv)
{
	char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(GENL_HDRLEN) + 128];
	struct count c = { 0 };
	struct mnl_socket *nl;
	struct nlmsghdr *n;
	int one = 1, family = -1, i;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("netlink socket");
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));

	/* the family's id */
	n = genl_put(req, GENL_ID_CTRL, 0, 1, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(n, CTRL_ATTR_FAMILY_NAME, VMPOLICE_GENL_NAME);
	talk(nl, n, family_cb, &family);
	if (family < 0) {
		fprintf(stderr, "no family id\n");
		return 2;
	}

	n = genl_put(req, family, NLM_F_DUMP, 2, VMPOLICE_CMD_QUEUE_GET,
		     VMPOLICE_GENL_VERSION);
	for (i = 1; i + 1 < argc; i += 2) {
		unsigned long v;
		int type;

		if (!strcmp(argv[i], "index")) {
			type = VMPOLICE_A_ACT_INDEX;
			v = strtoul(argv[i + 1], NULL, 0);
		} else if (!strcmp(argv[i], "dev")) {
			type = VMPOLICE_A_IFINDEX;
			v = if_nametoindex(argv[i + 1]) ?:
			    strtoul(argv[i + 1], NULL, 0);
		} else if (!strcmp(argv[i], "handle")) {
			type = VMPOLICE_A_HANDLE;
			v = strtoul(argv[i + 1], NULL, 16) << 16;
		} else {
			fprintf(stderr, "what is %s?\n", argv[i]);
			return 2;
		}
		if (!mnl_attr_put_u32_check(n, sizeof(req), type, v)) {
			fprintf(stderr, "too many arguments\n");
			return 2;
		}
	}
	talk(nl, n, dump_cb, &c);
	printf("queues %u messages %u ids %u..%u %s\n", c.queues, c.messages,
	       c.first, c.last, c.gaps ? "gaps" : "contiguous");
	mnl_socket_close(nl);
	return 0;
}
