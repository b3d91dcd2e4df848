// The extension's context object: it owns the language client (the `lulu serve`
// process), the sessions tree, the session views, and every disposable. Commands and
// views reach the server only through `request`.

import * as vscode from "vscode";
import {
  CloseAction,
  type ErrorHandler,
  ErrorAction,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
} from "vscode-languageclient/node";
import { spawn } from "node:child_process";
import { type LuluSettings, checkAgents, initializationOptions, notAServerMessage, resolveServer, settingAtFault } from "./config";
import {
  type Notifications,
  PROTOCOL_VERSION,
  type RequestMethod,
  type Requests,
  type SessionRow,
} from "./protocol";
import { Approvals } from "./approvals";
import { viewBadge } from "./approvalsModel";
import { DASHBOARD_VIEW, Dashboard } from "./dashboard";
import { type NotifyOnEnd, OPEN, SHOW_CHANGES, endNotice, endedNow } from "./endNotice";
import { Review } from "./review";
import { countRows } from "./rows";
import { SessionViews } from "./sessionView";
import { SessionsTree } from "./sessionsTree";

/** Readable text for what the language client logs beside a message (never "[object Object]"). */
function logData(data: unknown): string | undefined {
  if (data === null || data === undefined || typeof data === "string") return data ?? undefined;
  if (data instanceof Error) {
    const rpc = data as Error & { code?: unknown; data?: unknown };
    const extra = rpc.data === undefined ? "" : ` ${JSON.stringify(rpc.data)}`;
    return `  ${rpc.message}${typeof rpc.code === "number" ? ` (code ${rpc.code})` : ""}${extra}`;
  }
  try {
    return JSON.stringify(data);
  } catch {
    return String(data);
  }
}

/** A LanguageClient that never raises its own notifications: Lulu says one clear thing itself. */
class QuietLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | "force"): void {
    super.error(message, logData(data), false);
  }
  override warn(message: string, data?: unknown, _showNotification?: boolean): void {
    super.warn(message, logData(data), false);
  }
}

export function readSettings(): LuluSettings {
  const c = vscode.workspace.getConfiguration("lulu");
  const max = c.inspect<number>("maxRunning");
  const maxSet = max?.workspaceFolderValue ?? max?.workspaceValue ?? max?.globalValue;
  return {
    serverPath: c.get<string>("server.path", "lulu"),
    agents: c.get<Record<string, unknown>>("agents", {}),
    defaultAgent: c.get<string>("defaultAgent", ""),
    maxRunning: maxSet,
    worktreeDir: c.get<string>("worktreeDir", ""),
    stateDir: c.get<string>("stateDir", ""),
  };
}

/** The settings a start runs with, for the log's start-up line. */
function settingsSummary(s: LuluSettings): string {
  const parts = [
    `stateDir ${s.stateDir.trim() || "(server default)"}`,
    `worktreeDir ${s.worktreeDir.trim() || "(server default)"}`,
    `maxRunning ${s.maxRunning ?? "(server default)"}`,
    `defaultAgent ${s.defaultAgent.trim() || "(server default)"}`,
    `agents ${Object.keys(s.agents).join(", ") || "(built-in)"}`,
  ];
  return parts.join("; ");
}

export class Lulu implements vscode.Disposable {
  readonly output: vscode.LogOutputChannel;
  readonly tree: SessionsTree;
  readonly views: SessionViews;
  readonly treeView: vscode.TreeView<string>;
  readonly dashboard: Dashboard;
  readonly review: Review;
  readonly approvals: Approvals;

  private readonly disposables: vscode.Disposable[] = [];
  /** When the extension started: sessions that ended before are not told of. */
  private readonly activatedAt = Date.now();
  private client: LanguageClient | undefined;
  private clientDisposables: vscode.Disposable[] = [];
  /** Why the server is not running, when it is not. */
  private notRunningReason: string | undefined = "The lulu server has not started yet.";
  private restartTimes: number[] = [];
  private readonly onDidStartEmitter = new vscode.EventEmitter<void>();
  /** Fires each time a server is up and initialized (first start and every restart). */
  readonly onDidStart = this.onDidStartEmitter.event;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.output = this.track(vscode.window.createOutputChannel("Lulu", { log: true }));
    this.track(this.onDidStartEmitter);
    this.tree = this.track(new SessionsTree(this));
    this.treeView = this.track(
      vscode.window.createTreeView("lulu.sessions", {
        treeDataProvider: this.tree,
        showCollapseAll: false,
        canSelectMany: true,
      }),
    );
    this.tree.attach(this.treeView);
    this.approvals = this.track(new Approvals(this));
    // Running and failed counts, in the status bar and as the view's badge, for a user
    // working elsewhere; the badge counts the requests waiting for the user when there are any.
    const status = this.track(vscode.window.createStatusBarItem("lulu.status", vscode.StatusBarAlignment.Left, 10));
    status.name = "Lulu Sessions";
    status.command = "lulu.sessions.focus";
    const showCounts = () => {
      const c = countRows(this.tree.rows());
      status.text = c.text;
      status.tooltip = c.tooltip;
      status.accessibilityInformation = { label: c.tooltip };
      if (c.text) status.show();
      else status.hide();
      this.treeView.badge = viewBadge(this.approvals.pendingCount(), c);
    };
    this.track(this.tree.onDidChangeCounts(showCounts));
    this.track(
      this.approvals.onDidChange((sessionId) => {
        if (sessionId === undefined) {
          showCounts();
          return;
        }
        this.tree.redraw(sessionId);
        this.views.onApprovalsChanged(sessionId);
      }),
    );
    this.views = this.track(new SessionViews(this));
    this.dashboard = this.track(new Dashboard(this));
    this.review = this.track(new Review(this));
    this.track(vscode.window.registerWebviewViewProvider(DASHBOARD_VIEW, this.dashboard));
    this.track(
      vscode.workspace.onDidChangeConfiguration((e) => {
        const relevant = ["lulu.server.path", "lulu.agents", "lulu.defaultAgent", "lulu.maxRunning", "lulu.worktreeDir", "lulu.stateDir"];
        const changed = relevant.filter((s) => e.affectsConfiguration(s));
        if (changed.length) void this.restart(`${changed.join(", ")} changed`);
      }),
    );
    this.track(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.restart("the workspace folders changed")));
  }

  track<T extends vscode.Disposable>(d: T): T {
    this.disposables.push(d);
    return d;
  }

  get isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  /** Starts `lulu serve`. On failure, says why once, with a button to fix the setting. */
  async start(): Promise<boolean> {
    if (this.client) return this.isRunning;
    this.setState("starting");
    const settings = readSettings();
    const server = resolveServer(settings.serverPath, process.env.PATH, vscode.Uri.joinPath(this.extension.extensionUri, "server", "lulu").fsPath);
    if (!server.ok) return this.failed(server.message);
    const agents = checkAgents(settings.agents);
    if (!agents.ok) return this.failed(agents.message, "lulu.agents");

    // The extension starts the process itself, so that a program that is not lulu (it
    // exits at once) can be told apart by its own last words on stderr.
    let stderr = "";
    let exit: { code: number | null; signal: string | null } | undefined;
    const serverOptions: ServerOptions = async () => {
      const child = spawn(server.path, ["serve"], { env: process.env, stdio: "pipe" });
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-4096);
      });
      child.on("exit", (code, signal) => {
        exit = { code, signal };
      });
      return child;
    };
    this.output.info(`Starting ${server.path} serve (${settingsSummary(settings)})`);
    let everRunning = false;
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      initializationOptions: initializationOptions(settings, agents.agents),
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      errorHandler: this.errorHandler(server.path, () => everRunning),
      initializationFailedHandler: () => false,
    };
    const client = new QuietLanguageClient("lulu", "Lulu", serverOptions, clientOptions);
    this.client = client;
    this.clientDisposables = this.route(client, () => {
      everRunning = true;
    });
    // A program that exits at once may do so just after the client gave up on it.
    const exitedSaying = async () => {
      for (let i = 0; i < 10 && !exit; i++) await new Promise((r) => setTimeout(r, 50));
      return notAServerMessage(server.path, exit, stderr);
    };
    try {
      await client.start();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      const notLulu = await exitedSaying();
      if (notLulu) return this.failed(`The lulu server did not start: ${notLulu}`);
      const setting = settingAtFault(why);
      return this.failed(
        setting === "lulu.server.path"
          ? `The lulu server "${server.path}" did not start (its output is in the Lulu log): ${why}`
          : `The lulu server cannot use the setting ${setting}: ${why}`,
        setting,
      );
    }
    return this.checkProtocol(client, server.path, exitedSaying);
  }

  /**
   * The client's error handler: a server that dies before it was ever up is not restarted
   * (start() says why, once); one that was up is restarted, at most four times in 3 minutes.
   */
  private errorHandler(serverPath: string, wasRunning: () => boolean): ErrorHandler {
    return {
      error: (_error, _message, count) => ({
        action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
        handled: true,
      }),
      closed: () => {
        if (!wasRunning()) return { action: CloseAction.DoNotRestart, handled: true };
        const now = Date.now();
        this.restartTimes = this.restartTimes.filter((t) => now - t < 180_000);
        if (this.restartTimes.length < 4) {
          this.restartTimes.push(now);
          this.output.warn("The lulu server exited; restarting it.");
          this.setState("starting");
          return { action: CloseAction.Restart, handled: true };
        }
        void this.failed(`The lulu server (${serverPath}) stopped 5 times in 3 minutes and will not be restarted.`);
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    };
  }

  /** Routes the server's notifications to the list, the views, approvals and review. */
  private route(client: LanguageClient, onRunning: () => void): vscode.Disposable[] {
    return [
      client.onNotification("lulu/sessionChanged", (p: Notifications["lulu/sessionChanged"]) => {
        const previous = this.tree.get(p.session.id);
        this.tree.upsert(p.session);
        this.views.onSessionChanged(p.session);
        this.noticeEnd(previous, p.session);
      }),
      client.onNotification("lulu/sessionRemoved", (p: Notifications["lulu/sessionRemoved"]) => {
        this.tree.remove(p.id);
        this.views.onSessionRemoved(p.id);
      }),
      client.onNotification("lulu/output", (p: Notifications["lulu/output"]) => this.views.onOutput(p)),
      client.onNotification("lulu/approvalRequested", (p: Notifications["lulu/approvalRequested"]) => this.approvals.onRequested(p.approval)),
      client.onNotification("lulu/approvalResolved", (p: Notifications["lulu/approvalResolved"]) => this.approvals.onResolved(p)),
      client.onNotification("lulu/commentsChanged", (p: Notifications["lulu/commentsChanged"]) => this.review.onCommentsChanged(p.id)),
      client.onDidChangeState((e) => {
        if (e.newState === State.Running && e.oldState !== State.Running) {
          onRunning();
          this.started();
        }
        if (e.newState === State.Stopped) this.setState("stopped");
      }),
    ];
  }

  /** Checks the protocol version `initialize` announced, and logs the server's start. */
  private async checkProtocol(
    client: LanguageClient,
    serverPath: string,
    exitedSaying: () => Promise<string | undefined>,
  ): Promise<boolean> {
    const lulu = (client.initializeResult?.capabilities.experimental as { lulu?: { protocolVersion?: unknown; stateDir?: unknown } } | undefined)
      ?.lulu;
    const version = lulu?.protocolVersion;
    if (version !== PROTOCOL_VERSION) {
      const notLulu = await exitedSaying();
      if (notLulu) return this.failed(`The lulu server did not start: ${notLulu}`);
      return this.failed(
        version === undefined
          ? `"${serverPath}" answered like a language server, but not like lulu (no protocol version). Is lulu.serverPath the lulu server?`
          : `The lulu server "${serverPath}" speaks protocol version ${JSON.stringify(version)}; this extension needs version ${PROTOCOL_VERSION}.`,
      );
    }
    const info = client.initializeResult?.serverInfo;
    this.output.info(
      `Started ${info?.name ?? "lulu"} ${info?.version ?? "(unknown version)"} from ${serverPath}, protocol ${version}, state dir ${String(lulu?.stateDir ?? "(unknown)")}`,
    );
    return true;
  }

  /** Tells of a session of the window's repositories that has just ended (`lulu.notifyOnEnd`). */
  private noticeEnd(previous: SessionRow | undefined, row: SessionRow): void {
    if (!endedNow(this.activatedAt, previous, row)) return;
    const mode = vscode.workspace.getConfiguration("lulu").get<NotifyOnEnd>("notifyOnEnd", "all");
    const notice = endNotice(row, mode);
    if (!notice) return;
    const show = notice.level === "info" ? vscode.window.showInformationMessage : vscode.window.showErrorMessage;
    void show(notice.message, ...notice.actions).then((choice) => {
      if (choice === OPEN) void vscode.commands.executeCommand("lulu.openSession", row.id);
      if (choice === SHOW_CHANGES) void vscode.commands.executeCommand("lulu.showChanges", row.id);
    });
  }

  private started(): void {
    // A start-up error still on screen stays until VS Code fades it or the user closes it:
    // VS Code lets an extension close none of its messages, and hiding every toast
    // (notifications.hideToasts) would hide the user's other notifications too.
    this.notRunningReason = undefined;
    this.setState("running");
    this.onDidStartEmitter.fire();
    void this.review.started();
  }

  private setState(state: "starting" | "running" | "failed" | "stopped"): void {
    void vscode.commands.executeCommand("setContext", "lulu.serverState", state);
  }

  /** Records why the server is not running and says so once, with a way to fix it. */
  private async failed(message: string, setting = "lulu.server.path"): Promise<false> {
    this.notRunningReason = message;
    this.output.error(message);
    this.setState("failed");
    await this.disposeClient();
    const openSettings = "Open Settings";
    const showLog = "Show Log";
    void vscode.window.showErrorMessage(`Lulu: ${message}`, openSettings, showLog).then((choice) => {
      if (choice === openSettings) void vscode.commands.executeCommand("workbench.action.openSettings", setting);
      if (choice === showLog) this.output.show();
    });
    return false;
  }

  private async disposeClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    for (const d of this.clientDisposables) d.dispose();
    this.clientDisposables = [];
    if (client) {
      try {
        if (client.needsStop()) await client.stop(2000);
      } catch (err) {
        this.output.warn(`Stopping the lulu server: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.notRunningReason = "The lulu server was stopped.";
    await this.disposeClient();
  }

  async restart(why = "asked to"): Promise<boolean> {
    this.output.info(`Restarting the lulu server (${why}).`);
    await this.stop();
    this.restartTimes = [];
    return this.start();
  }

  /** Sends a request; rejects with a readable error when the server is not running. */
  async request<M extends RequestMethod>(method: M, params: Requests[M][0]): Promise<Requests[M][1]> {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      throw new Error(this.notRunningReason ?? "The lulu server is not running.");
    }
    return client.sendRequest<Requests[M][1]>(method, params);
  }

  /** The session rows the tree knows, for pickers. */
  rows(): SessionRow[] {
    return this.tree.rows();
  }

  dispose(): void {
    void this.disposeClient();
    for (const d of this.disposables.reverse()) d.dispose();
    this.disposables.length = 0;
  }
}
