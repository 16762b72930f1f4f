/* cli_args: parsing the argv words of one xe invocation. */
#include "rpc/cli_args.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

/* The two-word switches xapi converts into parameters (switch_map). */
static const struct {
	const char *sw;
	const char *key;
} cli_switches[] = {
	{"-u", "username"}, {"-pw", "password"}, {"-s", "server"},
	{"-h", "server"},   {"-p", "port"},
};

static const char *const cli_std_params[] = {
	"server", "password", "port",	    "username",		"minimal",
	"force",  "multiple", "all",	    "message-priority", "trace",
};

/* Wipes and frees a credential. */
static void
cli_args_wipe(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Appends a parameter, or stores it as a credential. */
static void
cli_args_add(struct cli_args *a, char *k, char *v)
{
	if (strcmp(k, "username") == 0 || strcmp(k, "password") == 0) {
		char **slot = k[0] == 'u' ? &a->username : &a->password;
		cli_args_wipe(*slot);
		*slot = v;
		free(k);
		return;
	}
	a->kv = xrealloc(a->kv, (a->n + 1) * sizeof(*a->kv));
	a->kv[a->n].k = k;
	a->kv[a->n].v = v;
	a->n++;
}

/* Splits the body into words (lines, "\r" dropped). Returns the count. */
static size_t
cli_args_words(const char *body, size_t len, char ***out)
{
	char **w = NULL;
	size_t n = 0, i = 0;

	for (;;) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - body) : len;
		size_t wl = end - i;

		if (wl && body[i + wl - 1] == '\r')
			wl--;
		w = xrealloc(w, (n + 1) * sizeof(*w));
		w[n++] = xstrndup(body + i, wl);
		if (!nl)
			break;
		i = end + 1;
	}
	/* A trailing newline would make an empty last word: drop it. */
	if (n > 1 && w[n - 1][0] == '\0' && len && body[len - 1] == '\n')
		free(w[--n]);
	*out = w;
	return n;
}

int
cli_args_parse(struct cli_args *a, const char *body, size_t len)
{
	char **w;
	size_t n, i = 0, j;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	n = cli_args_words(body, len, &w);
	if (n && strncmp(w[0], "session_id=", 11) == 0) {
		a->session = xstrdup(w[0] + 11);
		i = 1;
	}
	if (i >= n || strchr(w[i], '=')) {
		a->cmd = xstrdup("");
		rc = i < n ? -1 : 0;
		goto out;
	}
	a->cmd = xstrdup(w[i++]);
	for (; i < n && rc == 0; i++) {
		const char *s = w[i];
		const char *eq;

		if (strncmp(s, "--", 2) == 0) {
			cli_args_add(a, xstrdup(s + 2), xstrdup("true"));
			continue;
		}
		if (s[0] == '-') {
			rc = -1;
			for (j = 0; j < sizeof(cli_switches) /
					    sizeof(cli_switches[0]);
			     j++)
				if (strcmp(s, cli_switches[j].sw) == 0)
					break;
			if (j == sizeof(cli_switches) / sizeof(cli_switches[0]) ||
			    i + 1 >= n)
				break;
			cli_args_add(a, xstrdup(cli_switches[j].key),
				     xstrdup(w[++i]));
			rc = 0;
			continue;
		}
		eq = strchr(s, '=');
		if (eq)
			cli_args_add(a, xstrndup(s, (size_t)(eq - s)),
				     xstrdup(eq + 1));
		else
			cli_args_add(a, xstrdup(s), xstrdup(""));
	}
out:
	for (i = 0; i < n; i++) {
		explicit_bzero(w[i], strlen(w[i]));
		free(w[i]);
	}
	free(w);
	return rc;
}

void
cli_args_free(struct cli_args *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->kv[i].k);
		free(a->kv[i].v);
	}
	free(a->kv);
	free(a->cmd);
	cli_args_wipe(a->username);
	cli_args_wipe(a->password);
	free(a->session);
	memset(a, 0, sizeof(*a));
}

const char *
cli_args_get(const struct cli_args *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].k, key) == 0)
			return a->kv[i].v;
	return NULL;
}

bool
cli_args_has(const struct cli_args *a, const char *key)
{
	return cli_args_get(a, key) != NULL;
}

size_t
cli_args_count(const struct cli_args *a, const char *key)
{
	size_t c = 0;

	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->kv[i].k, key) == 0)
			c++;
	return c;
}

int
cli_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"true", "t", "yes", "y", "1"};
	static const char *const no[] = {"false", "f", "no", "n", "0"};

	for (size_t i = 0; i < 5; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

bool
cli_args_is_std(const char *key)
{
	for (size_t i = 0; i < sizeof(cli_std_params) / sizeof(cli_std_params[0]);
	     i++)
		if (strcmp(key, cli_std_params[i]) == 0)
			return true;
	return false;
}

size_t
cli_args_map(const struct cli_args *a, const char *name, struct cli_kv **out)
{
	size_t nl = strlen(name), c = 0;
	struct cli_kv *r = xcalloc(a->n + 1, sizeof(*r));

	for (size_t i = 0; i < a->n; i++) {
		const char *k = a->kv[i].k;

		if (strncmp(k, name, nl) == 0 && strlen(k) > nl + 1) {
			r[c].k = (char *)k + nl + 1;
			r[c].v = a->kv[i].v;
			c++;
		}
	}
	*out = r;
	return c;
}
