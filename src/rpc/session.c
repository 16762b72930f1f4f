/* session: login (PAM or a password file), logout, session validation. */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/api_int.h"
#include "util/log.h"
#include "util/xalloc.h"

static char *session_pwfile;
static char *session_host;
static const struct api_remote_ops *session_remote;

void
api_set_remote(const struct api_remote_ops *ops)
{
	session_remote = ops;
}

const struct api_remote_ops *
api_remote(void)
{
	return session_remote;
}

void
session_set_password_file(const char *path)
{
	free(session_pwfile);
	session_pwfile = path ? xstrdup(path) : NULL;
}

void
session_set_this_host(const char *host_ref)
{
	free(session_host);
	session_host = host_ref ? xstrdup(host_ref) : NULL;
}

static int
session_pam_conv(int n, const struct pam_message **msg,
		 struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			r[i].resp = strdup((const char *)data);
	*resp = r;
	return PAM_SUCCESS;
}

/* Checks the password; returns NULL or a reason. */
static const char *
session_authenticate(const char *user, const char *pwd)
{
	if (session_pwfile) {
		char line[512];
		FILE *f = fopen(session_pwfile, "re");
		if (!f)
			return "password file unreadable";
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(user, "root") != 0 || strcmp(line, pwd) != 0)
			return "Authentication failure";
		return NULL;
	}
	struct pam_conv conv = {session_pam_conv, (void *)pwd};
	pam_handle_t *ph = NULL;
	int rc = pam_start("xapid", user, &conv, &ph);
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(ph, PAM_SILENT);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(ph, PAM_SILENT);
	const char *why = rc == PAM_SUCCESS ? NULL : pam_strerror(ph, rc);
	static __thread char reason[128];
	if (why) {
		snprintf(reason, sizeof(reason), "%s", why);
		why = reason;
	}
	pam_end(ph, rc);
	return why;
}

static struct api_err *
session_login(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *user = args[0]->u.s, *pwd = args[1]->u.s;
	const char *originator = nargs > 3 ? args[3]->u.s : "";

	if (!ctx->local) {
		const char *why = session_authenticate(user, pwd);
		if (why) {
			log_warn("session", "login of %s from %s failed: %s",
				 user, ctx->origin ? ctx->origin : "-", why);
			return api_error(XE_SESSION_AUTHENTICATION_FAILED, user,
					 why, NULL);
		}
	}
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_session, NULL, NULL);
	int64_t now = (int64_t)time(NULL);
	db_txn_set(t, r, DMF_session_this_host,
		   (union dm_val){.s = xstrdup(session_host ? session_host : DM_NULL_REF)});
	db_txn_set(t, r, DMF_session_last_active, (union dm_val){.i = now});
	db_txn_set(t, r, DMF_session_validation_time, (union dm_val){.i = now});
	db_txn_set(t, r, DMF_session_is_local_superuser, (union dm_val){.b = true});
	db_txn_set(t, r, DMF_session_auth_user_name,
		   (union dm_val){.s = xstrdup(ctx->local ? "root" : user)});
	db_txn_set(t, r, DMF_session_originator,
		   (union dm_val){.s = xstrdup(originator)});
	char *ref = xstrdup(r->ref);
	struct api_err *err = api_commit(t);
	if (err) {
		free(ref);
		return err;
	}
	free(ctx->session);
	ctx->session = xstrdup(ref);
	free(ctx->user);
	ctx->user = xstrdup(ctx->local ? "root" : user);
	*result = xv_str_own(ref);
	return NULL;
}

static struct api_err *
session_logout(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)args;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	db_txn_destroy(t, DMC_session, ctx->session);
	/* tasks of the session go with it, as in xapi */
	return api_commit(t);
}

struct api_err *
session_check(struct api_ctx *ctx, const char *ref)
{
	db_rdlock();
	struct db_row *r = db_get(DMC_session, ref);
	char *user = r ? xstrdup(r->f[DMF_session_auth_user_name].s) : NULL;
	db_unlock();
	if (!r && session_remote) { /* a session of the master (slave) */
		struct api_err *err = NULL;
		user = session_remote->session_user(ref, &err);
		if (err)
			return err;
	}
	if (!r && !user)
		return api_error(XE_SESSION_INVALID, ref, NULL);
	if (!ctx->session || strcmp(ctx->session, ref) != 0) {
		free(ctx->session);
		ctx->session = xstrdup(ref);
	}
	free(ctx->user);
	ctx->user = user;
	return NULL;
}

void
session_register(void)
{
	api_register("session.login_with_password", session_login,
		     API_NO_SESSION | API_NO_ASYNC);
	api_register("session.logout", session_logout, API_NO_ASYNC);
	api_register("session.local_logout", session_logout, API_NO_ASYNC);
	api_register("session.slave_local_login_with_password", session_login,
		     API_NO_SESSION | API_NO_ASYNC);
}
