// Lexer and recursive-descent parser for Reka's SQL (Flink's dialect, the subset in
// docs/sql.md).

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>

#include "sql/Ast.h"

namespace reka::sql {

namespace {

struct Token {
  enum class Kind { kIdent, kQuotedIdent, kString, kNumber, kSymbol, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;  ///< identifiers as written; strings unescaped; symbols as written
  Position pos;
  size_t offset = 0;  ///< in the script
  size_t end = 0;
};

Result<std::vector<Token>> lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  int line = 1;
  size_t lineStart = 0;
  auto position = [&](size_t at) { return Position{line, static_cast<int>(at - lineStart) + 1}; };
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\n') {
      ++i;
      ++line;
      lineStart = i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      const Position start = position(i);
      i += 2;
      while (i + 1 < s.size() && !(s[i] == '*' && s[i + 1] == '/')) {
        if (s[i] == '\n') {
          ++line;
          lineStart = i + 1;
        }
        ++i;
      }
      if (i + 1 >= s.size()) return Status::invalidArgument("SQL: a /* comment at " + start.toString() + " is not closed");
      i += 2;
      continue;
    }
    Token t;
    t.pos = position(i);
    t.offset = i;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '$')) ++j;
      t.kind = Token::Kind::kIdent;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (c == '`') {
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= s.size()) return Status::invalidArgument("SQL: a `quoted name` at " + t.pos.toString() + " is not closed");
        if (s[j] == '`') {
          if (j + 1 < s.size() && s[j + 1] == '`') {
            t.text += '`';
            ++j;
            continue;
          }
          break;
        }
        t.text += s[j];
      }
      t.kind = Token::Kind::kQuotedIdent;
      i = j + 1;
    } else if (c == '\'') {
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= s.size()) return Status::invalidArgument("SQL: a 'string' at " + t.pos.toString() + " is not closed");
        if (s[j] == '\'') {
          if (j + 1 < s.size() && s[j + 1] == '\'') {
            t.text += '\'';
            ++j;
            continue;
          }
          break;
        }
        if (s[j] == '\n') {
          ++line;
          lineStart = j + 1;
        }
        t.text += s[j];
      }
      t.kind = Token::Kind::kString;
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
          j = k;
          while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        }
      }
      t.kind = Token::Kind::kNumber;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else {
      static const char* kTwo[] = {"<>", "!=", "<=", ">=", "||"};
      t.kind = Token::Kind::kSymbol;
      for (const char* two : kTwo)
        if (s.substr(i, 2) == two) t.text = two;
      if (t.text.empty()) {
        if (std::string_view("+-*/%=<>(),.;{}?|").find(c) == std::string_view::npos)
          return Status::invalidArgument(fmt::format("SQL: unexpected character '{}' at {}", c, t.pos.toString()));
        t.text = std::string(1, c);
      }
      i += t.text.size();
    }
    t.end = i;
    out.push_back(std::move(t));
  }
  Token end;
  end.kind = Token::Kind::kEnd;
  end.pos = position(i);
  end.offset = end.end = i;
  out.push_back(end);
  return out;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// Words that end an expression or a select item where an alias could otherwise follow.
bool isReserved(const std::string& u) {
  static const char* kWords[] = {"SELECT", "FROM",  "WHERE", "AND",  "OR",   "NOT",  "AS",    "CASE", "WHEN", "THEN",
                                 "ELSE",   "END",   "IS",    "NULL", "CAST", "INSERT", "INTO", "CREATE", "TABLE",
                                 "WITH",   "GROUP", "ORDER", "BY",   "UNION", "JOIN", "ON",   "HAVING", "LIMIT",
                                 "LEFT",   "RIGHT", "FULL",  "INNER", "CROSS", "OUTER", "WINDOW", "FOR"};
  for (const char* w : kWords)
    if (u == w) return true;
  return false;
}

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens) : text_(text), t_(std::move(tokens)) {}

  Result<std::vector<Statement>> script() {
    std::vector<Statement> out;
    for (;;) {
      while (symbol(";")) {
      }
      if (peek().kind == Token::Kind::kEnd) break;
      REKA_ASSIGN_OR_RETURN(Statement s, statement());
      out.push_back(std::move(s));
      if (peek().kind != Token::Kind::kEnd && !symbol(";")) return error("';' after the statement");
    }
    if (out.empty()) return Status::invalidArgument("SQL: the script holds no statement");
    return out;
  }

  Result<ExprPtr> wholeExpression() {
    REKA_ASSIGN_OR_RETURN(ExprPtr e, expression());
    if (peek().kind != Token::Kind::kEnd) return error("the end of the expression");
    return e;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(p_++, t_.size() - 1)]; }
  bool isWord(const Token& t, const char* w) const { return t.kind == Token::Kind::kIdent && upper(t.text) == w; }
  bool word(const char* w) {
    if (!isWord(peek(), w)) return false;
    ++p_;
    return true;
  }
  bool isSymbol(const Token& t, const char* s) const { return t.kind == Token::Kind::kSymbol && t.text == s; }
  bool symbol(const char* s) {
    if (peek().kind != Token::Kind::kSymbol || peek().text != s) return false;
    ++p_;
    return true;
  }
  Status error(const std::string& expected) const {
    const Token& t = peek();
    std::string got = t.kind == Token::Kind::kEnd ? "the end of the script" : "'" + t.text + "'";
    return Status::invalidArgument(fmt::format("SQL: expected {} at {}, got {}", expected, t.pos.toString(), got));
  }
  Status expectWord(const char* w) { return word(w) ? Status::ok() : error(w); }
  Status expectSymbol(const char* s) { return symbol(s) ? Status::ok() : error(std::string("'") + s + "'"); }

  Result<std::string> identifier(const char* what) {
    const Token& t = peek();
    if (t.kind == Token::Kind::kQuotedIdent || (t.kind == Token::Kind::kIdent && !isReserved(upper(t.text)))) {
      ++p_;
      return t.text;
    }
    return error(what);
  }
  /// A table name, possibly qualified (catalog.db.table): the last part names it.
  Result<std::string> tableName() {
    REKA_ASSIGN_OR_RETURN(std::string n, identifier("a table name"));
    while (symbol(".")) {
      REKA_ASSIGN_OR_RETURN(n, identifier("a table name"));
    }
    return n;
  }
  Result<std::string> stringLiteral(const char* what) {
    if (peek().kind != Token::Kind::kString) return error(what);
    return next().text;
  }

  /// The text of a type: tokens up to a ',' or ')' at depth 0, or a word that ends it.
  Result<DataType> type() {
    const Token& first = peek();
    int depth = 0;
    size_t end = first.offset;
    for (;;) {
      const Token& t = peek();
      if (t.kind == Token::Kind::kEnd) break;
      if (t.kind == Token::Kind::kSymbol && (t.text == "(" || t.text == "<")) ++depth;
      if (t.kind == Token::Kind::kSymbol && (t.text == ")" || t.text == ">")) {
        if (depth == 0) break;
        --depth;
      }
      if (depth == 0 && t.kind == Token::Kind::kSymbol && (t.text == "," || t.text == ";")) break;
      if (depth == 0 && t.kind == Token::Kind::kIdent && (upper(t.text) == "PRIMARY" || upper(t.text) == "METADATA" ||
                                                          upper(t.text) == "COMMENT"))
        break;
      end = t.end;
      ++p_;
    }
    auto parsed = parseDataType(text_.substr(first.offset, end - first.offset));
    if (!parsed.isOk()) return Status::invalidArgument("SQL: at " + first.pos.toString() + ": " + parsed.status().message());
    return *parsed;
  }

  Result<Statement> statement() {
    Statement s;
    s.pos = peek().pos;
    if (word("CREATE")) {
      word("TEMPORARY");
      if (word("TABLE")) {
        s.kind = Statement::Kind::kCreateTable;
        REKA_ASSIGN_OR_RETURN(s.createTable, createTable(s.pos));
        return s;
      }
      if (word("VIEW")) {
        s.kind = Statement::Kind::kCreateView;
        s.createView.pos = s.pos;
        REKA_ASSIGN_OR_RETURN(s.createView.name, tableName());
        REKA_RETURN_IF_ERROR(expectWord("AS"));
        REKA_ASSIGN_OR_RETURN(s.createView.query, query());
        return s;
      }
      word("SYSTEM");
      if (word("FUNCTION")) {
        // CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS] name AS 'registered-name' [LANGUAGE …]
        s.kind = Statement::Kind::kCreateFunction;
        s.createFunction.pos = s.pos;
        if (word("IF")) {
          REKA_RETURN_IF_ERROR(expectWord("NOT"));
          REKA_RETURN_IF_ERROR(expectWord("EXISTS"));
        }
        REKA_ASSIGN_OR_RETURN(s.createFunction.name, identifier("a function name"));
        REKA_RETURN_IF_ERROR(expectWord("AS"));
        REKA_ASSIGN_OR_RETURN(s.createFunction.registeredName, stringLiteral("the function's registered 'name'"));
        if (word("LANGUAGE")) {
          REKA_ASSIGN_OR_RETURN(std::string language, identifier("a language"));
          (void)language;  // Flink's JAVA / SCALA / PYTHON name where the class lives; here functions are C++
        }
        return s;
      }
      return error("TABLE, VIEW or FUNCTION after CREATE");
    }
    if (word("SET")) {
      s.kind = Statement::Kind::kSet;
      s.set.pos = s.pos;
      REKA_ASSIGN_OR_RETURN(s.set.key, stringLiteral("'key' after SET"));
      REKA_RETURN_IF_ERROR(expectSymbol("="));
      REKA_ASSIGN_OR_RETURN(s.set.value, stringLiteral("a 'value'"));
      return s;
    }
    if (word("INSERT")) {
      s.kind = Statement::Kind::kInsert;
      REKA_ASSIGN_OR_RETURN(s.insert, insert(s.pos));
      return s;
    }
    if (word("EXPLAIN")) {
      s.kind = Statement::Kind::kExplain;
      if (word("INSERT")) {
        REKA_ASSIGN_OR_RETURN(s.insert, insert(s.pos));
        return s;
      }
      return error("INSERT after EXPLAIN");
    }
    if (isWord(peek(), "SELECT"))
      return Status::notSupported("SQL: a SELECT at " + s.pos.toString() +
                                  " needs a destination: write INSERT INTO table SELECT … (results go to a table)");
    return error("a statement (CREATE TABLE, CREATE VIEW, SET, INSERT INTO, EXPLAIN)");
  }

  Result<Insert> insert(Position pos) {
    Insert in;
    in.pos = pos;
    REKA_RETURN_IF_ERROR(expectWord("INTO"));
    REKA_ASSIGN_OR_RETURN(in.table, tableName());
    REKA_ASSIGN_OR_RETURN(in.query, query());
    return in;
  }

  Result<CreateTable> createTable(Position pos) {
    CreateTable t;
    t.pos = pos;
    REKA_ASSIGN_OR_RETURN(t.name, tableName());
    REKA_RETURN_IF_ERROR(expectSymbol("("));
    for (;;) {
      if (word("WATERMARK")) {
        REKA_RETURN_IF_ERROR(expectWord("FOR"));
        REKA_ASSIGN_OR_RETURN(std::string c, identifier("the watermark's column"));
        t.watermarkColumn = c;
        REKA_RETURN_IF_ERROR(expectWord("AS"));
        REKA_ASSIGN_OR_RETURN(t.watermarkExpr, expression());
      } else if (word("PRIMARY")) {
        REKA_RETURN_IF_ERROR(expectWord("KEY"));
        REKA_RETURN_IF_ERROR(expectSymbol("("));
        do {
          REKA_ASSIGN_OR_RETURN(std::string k, identifier("a primary key column"));
          t.primaryKey.push_back(std::move(k));
        } while (symbol(","));
        REKA_RETURN_IF_ERROR(expectSymbol(")"));
        REKA_RETURN_IF_ERROR(expectWord("NOT"));
        REKA_RETURN_IF_ERROR(expectWord("ENFORCED"));
      } else {
        ColumnDef c;
        c.pos = peek().pos;
        REKA_ASSIGN_OR_RETURN(c.name, identifier("a column name"));
        if (word("AS")) {
          REKA_ASSIGN_OR_RETURN(c.computed, expression());
        } else {
          REKA_ASSIGN_OR_RETURN(c.type, type());
        }
        if (!c.computed && word("METADATA")) {
          c.metadata = c.name;
          if (word("FROM")) {
            if (peek().kind != Token::Kind::kString) return Status::invalidArgument("SQL: METADATA FROM at " + peek().pos.toString() + " takes a quoted key");
            c.metadata = next().text;
          }
          word("VIRTUAL");  // every metadata column is read-only here
        }
        if (word("PRIMARY")) {
          REKA_RETURN_IF_ERROR(expectWord("KEY"));
          REKA_RETURN_IF_ERROR(expectWord("NOT"));
          REKA_RETURN_IF_ERROR(expectWord("ENFORCED"));
          t.primaryKey.push_back(c.name);
        }
        for (const auto& other : t.columns)
          if (other.name == c.name)
            return Status::invalidArgument("SQL: column '" + c.name + "' at " + c.pos.toString() + " is defined twice");
        t.columns.push_back(std::move(c));
      }
      if (symbol(")")) break;
      REKA_RETURN_IF_ERROR(expectSymbol(","));
    }
    if (word("COMMENT")) {
      REKA_ASSIGN_OR_RETURN(std::string comment, stringLiteral("a 'comment'"));
      (void)comment;
    }
    if (word("PARTITIONED")) {
      REKA_RETURN_IF_ERROR(expectWord("BY"));
      REKA_RETURN_IF_ERROR(expectSymbol("("));
      do {
        REKA_ASSIGN_OR_RETURN(std::string c, identifier("a partition column"));
        t.partitionedBy.push_back(std::move(c));
      } while (symbol(","));
      REKA_RETURN_IF_ERROR(expectSymbol(")"));
    }
    if (word("WITH")) {
      REKA_RETURN_IF_ERROR(expectSymbol("("));
      do {
        REKA_ASSIGN_OR_RETURN(std::string k, stringLiteral("an option 'key'"));
        REKA_RETURN_IF_ERROR(expectSymbol("="));
        REKA_ASSIGN_OR_RETURN(std::string v, stringLiteral("an option 'value'"));
        t.options.emplace_back(std::move(k), std::move(v));
      } while (symbol(","));
      REKA_RETURN_IF_ERROR(expectSymbol(")"));
    }
    return t;
  }

  /// A window: (PARTITION BY … ORDER BY … [ASC|DESC], … [frame]).
  Status windowSpec(Expr::Over& o) {
    REKA_RETURN_IF_ERROR(expectSymbol("("));
    if (word("PARTITION")) {
      REKA_RETURN_IF_ERROR(expectWord("BY"));
      do {
        REKA_ASSIGN_OR_RETURN(ExprPtr p, expression());
        o.partitionBy.push_back(p);
      } while (symbol(","));
    }
    if (word("ORDER")) {
      REKA_RETURN_IF_ERROR(expectWord("BY"));
      do {
        REKA_ASSIGN_OR_RETURN(ExprPtr key, expression());
        o.orderBy.push_back(key);
        const bool desc = word("DESC");
        if (!desc) word("ASC");
        o.descending.push_back(desc);
      } while (symbol(","));
    }
    if (isWord(peek(), "ROWS") || isWord(peek(), "RANGE")) {
      // ROWS|RANGE [BETWEEN] bound [AND CURRENT ROW]; bound: UNBOUNDED PRECEDING, n PRECEDING
      // (ROWS), INTERVAL '…' unit PRECEDING (RANGE) or CURRENT ROW.
            o.hasFrame = true;
      o.framePos = peek().pos;
      o.rows = upper(next().text) == "ROWS";
      const bool between = word("BETWEEN");
      const Position boundPos = peek().pos;
      if (word("UNBOUNDED")) {
        REKA_RETURN_IF_ERROR(expectWord("PRECEDING"));
        o.preceding = -1;
      } else if (word("CURRENT")) {
        REKA_RETURN_IF_ERROR(expectWord("ROW"));
        o.preceding = 0;
      } else {
        REKA_ASSIGN_OR_RETURN(ExprPtr n, primary());
        if (o.rows && n->kind == Expr::Kind::kLiteral && n->literalType.kind != TypeKind::kString && n->text.find_first_not_of("0123456789") == std::string::npos) {
          o.preceding = std::stoll(n->text.substr(0, 18));
        } else if (!o.rows && n->kind == Expr::Kind::kInterval && n->millis >= 0) {
          o.preceding = n->millis;
        } else {
          return Status::invalidArgument("SQL: the frame bound at " + boundPos.toString() + " is not valid; a " + (o.rows ? "ROWS" : "RANGE") +
                                         " frame starts at UNBOUNDED PRECEDING, CURRENT ROW or " +
                                         (o.rows ? "n PRECEDING (a number of rows)" : "INTERVAL '…' unit PRECEDING"));
        }
        REKA_RETURN_IF_ERROR(expectWord("PRECEDING"));
      }
      if (between) {
        REKA_RETURN_IF_ERROR(expectWord("AND"));
        const Position endPos = peek().pos;
        if (!word("CURRENT") || !word("ROW"))
          return Status::notSupported("SQL: the frame at " + endPos.toString() + " must end at CURRENT ROW (as in Flink)");
      }
    }
    return expectSymbol(")");
  }

  /// An error for OVER w where no WINDOW clause defines w.
  static Status undefinedWindow(const Expr& e) {
    if (e.over && !e.over->name.empty()) return Status::invalidArgument("SQL: window '" + e.over->name + "' at " + e.pos.toString() + " is not defined");
    for (const auto& a : e.args) REKA_RETURN_IF_ERROR(undefinedWindow(*a));
    return Status::ok();
  }

  Result<Query> query() {
    Nesting guard(nesting_);
    if (nesting_ > kMaxNesting) return tooDeep();
    Query q;
    q.pos = peek().pos;
    REKA_RETURN_IF_ERROR(expectWord("SELECT"));
    q.distinct = word("DISTINCT");
    if (!q.distinct) word("ALL");
    do {
      SelectItem item;
      if (symbol("*")) {
        item.expr = std::make_shared<Expr>();
        item.expr->kind = Expr::Kind::kStar;
      } else {
        REKA_ASSIGN_OR_RETURN(item.expr, expression());
        if (word("AS")) {
          REKA_ASSIGN_OR_RETURN(item.alias, identifier("an alias"));
        } else if (peek().kind == Token::Kind::kQuotedIdent || (peek().kind == Token::Kind::kIdent && !isReserved(upper(peek().text)))) {
          item.alias = next().text;
        }
      }
      q.items.push_back(std::move(item));
    } while (symbol(","));
    REKA_RETURN_IF_ERROR(expectWord("FROM"));
    REKA_ASSIGN_OR_RETURN(FromItem first, fromItem());
    q.from = first.table;
    q.fromPos = first.pos;
    q.subquery = first.subquery;
    q.window = first.window;
    q.match = first.match;
    q.alias = first.alias;
    for (;;) {
      JoinClause j;
      j.pos = peek().pos;
      if (symbol(",")) {
        REKA_ASSIGN_OR_RETURN(j.right, fromItem());
        q.joins.push_back(std::move(j));
        continue;
      }
      bool cross = false;
      if (word("CROSS")) {
        cross = true;
      } else if (word("LEFT")) {
        j.kind = JoinClause::Kind::kLeft;
        word("OUTER");
      } else if (word("RIGHT")) {
        j.kind = JoinClause::Kind::kRight;
        word("OUTER");
      } else if (word("FULL")) {
        j.kind = JoinClause::Kind::kFull;
        word("OUTER");
      } else if (!word("INNER") && !isWord(peek(), "JOIN")) {
        break;
      }
      REKA_RETURN_IF_ERROR(expectWord("JOIN"));
      REKA_ASSIGN_OR_RETURN(j.right, fromItem());
      if (!cross) {
        REKA_RETURN_IF_ERROR(expectWord("ON"));
        REKA_ASSIGN_OR_RETURN(j.on, expression());
      }
      q.joins.push_back(std::move(j));
    }
    if (word("WHERE")) {
      REKA_ASSIGN_OR_RETURN(q.where, expression());
    }
    if (isWord(peek(), "GROUP")) {
      q.groupByPos = next().pos;
      REKA_RETURN_IF_ERROR(expectWord("BY"));
      do {
        REKA_ASSIGN_OR_RETURN(ExprPtr g, expression());
        q.groupBy.push_back(std::move(g));
      } while (symbol(","));
    }
    if (word("HAVING")) {
      REKA_ASSIGN_OR_RETURN(q.having, expression());
    }
    if (word("WINDOW")) {
      // WINDOW w AS (…), …: windows that OVER w names.
      std::map<std::string, std::shared_ptr<Expr::Over>> windows;
      do {
        const Token name = next();
        REKA_RETURN_IF_ERROR(expectWord("AS"));
        auto w = std::make_shared<Expr::Over>();
        REKA_RETURN_IF_ERROR(windowSpec(*w));
        windows[name.text] = w;
      } while (symbol(","));
      std::function<Status(const ExprPtr&)> resolve = [&](const ExprPtr& e) -> Status {
        if (e->over && !e->over->name.empty()) {
          auto w = windows.find(e->over->name);
          if (w == windows.end()) return Status::invalidArgument("SQL: window '" + e->over->name + "' at " + e->pos.toString() + " is not defined");
          e->over = w->second;
        }
        for (const auto& a : e->args) REKA_RETURN_IF_ERROR(resolve(a));
        return Status::ok();
      };
      for (const auto& item : q.items) REKA_RETURN_IF_ERROR(resolve(item.expr));
    }
    for (const auto& item : q.items) REKA_RETURN_IF_ERROR(undefinedWindow(*item.expr));
    while (isWord(peek(), "UNION")) {
      const Position at = next().pos;
      if (!word("ALL"))
        return Status::notSupported("SQL: UNION at " + at.toString() + " (without ALL, which removes duplicates) is not supported yet; "
                                    "write UNION ALL, or SELECT DISTINCT over it");
      REKA_ASSIGN_OR_RETURN(Query more, query());
      q.unionAll.push_back(std::make_shared<Query>(std::move(more)));
      // query() took the unions after `more` too: keep them flat, in order.
      auto& last = *q.unionAll.back();
      for (auto& u : last.unionAll) q.unionAll.push_back(std::move(u));
      last.unionAll.clear();
    }
    for (const char* unsupported : {"ORDER", "LIMIT", "INTERSECT", "EXCEPT", "MINUS"})
      if (isWord(peek(), unsupported))
        return Status::notSupported(fmt::format("SQL: {} at {} is not supported yet (this version runs projections, filters, "
                                                "GROUP BY, windows, joins, top-N and UNION ALL)",
                                                unsupported, peek().pos.toString()));
    return q;
  }

  /// A table or view, (subquery) or TABLE(window function), and its alias.
  Result<FromItem> fromItem() {
    FromItem f;
    f.pos = peek().pos;
    if (symbol("(")) {
      REKA_ASSIGN_OR_RETURN(Query sub, query());
      REKA_RETURN_IF_ERROR(expectSymbol(")"));
      f.subquery = std::make_shared<Query>(std::move(sub));
    } else if (isWord(peek(), "TABLE") && peek(1).kind == Token::Kind::kSymbol && peek(1).text == "(") {
      p_ += 2;
      Query holder;
      REKA_ASSIGN_OR_RETURN(WindowTvf w, windowFunction(holder));
      f.window = std::move(w);
      f.table = holder.from;
      REKA_RETURN_IF_ERROR(expectSymbol(")"));
    } else {
      REKA_ASSIGN_OR_RETURN(f.table, tableName());
      if (isWord(peek(), "FOR") && isWord(peek(1), "SYSTEM_TIME")) {
        p_ += 2;
        REKA_RETURN_IF_ERROR(expectWord("AS"));
        REKA_RETURN_IF_ERROR(expectWord("OF"));
        REKA_ASSIGN_OR_RETURN(f.systemTime, additive());
      }
    }
    if (isWord(peek(), "MATCH_RECOGNIZE")) {
      REKA_ASSIGN_OR_RETURN(MatchRecognize m, matchRecognize());
      f.match = std::make_shared<MatchRecognize>(std::move(m));
    }
    if (word("AS")) {
      REKA_ASSIGN_OR_RETURN(f.alias, identifier("an alias"));
    } else if (peek().kind == Token::Kind::kQuotedIdent || (peek().kind == Token::Kind::kIdent && !isReserved(upper(peek().text)))) {
      f.alias = next().text;
    }
    return f;
  }

  /// An expression and the text it was written as.
  Result<std::pair<ExprPtr, std::string>> expressionWithText() {
    const size_t from = peek().offset;
    REKA_ASSIGN_OR_RETURN(ExprPtr e, expression());
    const size_t to = p_ > 0 ? t_[p_ - 1].end : from;
    return std::make_pair(e, std::string(text_.substr(from, to - from)));
  }

  /// A non-negative integer literal (quantifier bounds).
  Result<int> smallInteger(const char* what) {
    const Token& t = peek();
    int v = -1;
    if (t.kind == Token::Kind::kNumber) {
      auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
      if (ec != std::errc() || p != t.text.data() + t.text.size()) v = -1;
    }
    if (v < 0 || v > 100000) return error(what);
    ++p_;
    return v;
  }

  /// MATCH_RECOGNIZE ( [PARTITION BY …] [ORDER BY …] [MEASURES …] [ONE ROW PER MATCH]
  /// [AFTER MATCH SKIP …] PATTERN (…) [WITHIN INTERVAL …] DEFINE … ), after the table.
  Result<MatchRecognize> matchRecognize() {
    MatchRecognize m;
    m.pos = next().pos;
    REKA_RETURN_IF_ERROR(expectSymbol("("));
    if (word("PARTITION")) {
      REKA_RETURN_IF_ERROR(expectWord("BY"));
      do {
        REKA_ASSIGN_OR_RETURN(ExprPtr e, expression());
        m.partitionBy.push_back(e);
      } while (symbol(","));
    }
    if (word("ORDER")) {
      REKA_RETURN_IF_ERROR(expectWord("BY"));
      REKA_ASSIGN_OR_RETURN(m.orderBy, expression());
      if (word("DESC")) m.descending = true;
      else word("ASC");
      if (isSymbol(peek(), ","))
        return Status::notSupported("SQL: MATCH_RECOGNIZE at " + m.pos.toString() + " orders by one time attribute only (ORDER BY rowtime)");
    }
    if (word("MEASURES")) {
      do {
        MatchRecognize::Measure x;
        x.pos = peek().pos;
        REKA_ASSIGN_OR_RETURN(auto e, expressionWithText());
        x.expr = e.first;
        x.text = e.second;
        REKA_RETURN_IF_ERROR(expectWord("AS"));
        REKA_ASSIGN_OR_RETURN(x.name, identifier("the measure's name after AS"));
        m.measures.push_back(std::move(x));
      } while (symbol(","));
    }
    if (word("ONE")) {
      REKA_RETURN_IF_ERROR(expectWord("ROW"));
      REKA_RETURN_IF_ERROR(expectWord("PER"));
      REKA_RETURN_IF_ERROR(expectWord("MATCH"));
    } else if (isWord(peek(), "ALL")) {
      const Position at = next().pos;
      return Status::notSupported("SQL: ALL ROWS PER MATCH at " + at.toString() + " is not supported; write ONE ROW PER MATCH (as in Flink)");
    }
    if (word("AFTER")) {
      REKA_RETURN_IF_ERROR(expectWord("MATCH"));
      REKA_RETURN_IF_ERROR(expectWord("SKIP"));
      if (word("PAST")) {
        REKA_RETURN_IF_ERROR(expectWord("LAST"));
        REKA_RETURN_IF_ERROR(expectWord("ROW"));
        m.skip = MatchRecognize::Skip::kPastLastRow;
      } else {
        REKA_RETURN_IF_ERROR(expectWord("TO"));
        if (word("NEXT")) {
          REKA_RETURN_IF_ERROR(expectWord("ROW"));
          m.skip = MatchRecognize::Skip::kToNextRow;
        } else {
          m.skip = word("FIRST") ? MatchRecognize::Skip::kToFirst : MatchRecognize::Skip::kToLast;
          if (m.skip == MatchRecognize::Skip::kToLast) word("LAST");  // SKIP TO v is SKIP TO LAST v
          REKA_ASSIGN_OR_RETURN(m.skipVariable, identifier("a pattern variable after SKIP TO [FIRST | LAST]"));
        }
      }
    }
    REKA_RETURN_IF_ERROR(expectWord("PATTERN"));
    REKA_RETURN_IF_ERROR(expectSymbol("("));
    while (!isSymbol(peek(), ")")) {
      if (isSymbol(peek(), "(") || isSymbol(peek(), "|"))
        return Status::notSupported("SQL: PATTERN at " + peek().pos.toString() +
                                    ": groups and alternatives ( | ) are not supported; a pattern is a sequence of variables with quantifiers");
      MatchRecognize::Term t;
      t.pos = peek().pos;
      REKA_ASSIGN_OR_RETURN(t.variable, identifier("a pattern variable"));
      if (symbol("*")) {
        t.min = 0;
        t.max = -1;
        t.quantified = true;
      } else if (symbol("+")) {
        t.min = 1;
        t.max = -1;
        t.quantified = true;
      } else if (symbol("?")) {
        t.min = 0;
        t.max = 1;
        t.quantified = true;
      } else if (symbol("{")) {
        t.quantified = true;
        t.min = 0;
        if (!isSymbol(peek(), ",")) {
          REKA_ASSIGN_OR_RETURN(t.min, smallInteger("a number in {n}, {n,}, {n,m} or {,m}"));
        }
        if (symbol(",")) {
          if (isSymbol(peek(), "}")) {
            t.max = -1;
          } else {
            REKA_ASSIGN_OR_RETURN(t.max, smallInteger("a number in {n,m} or {,m}"));
          }
        } else {
          t.max = t.min;
        }
        REKA_RETURN_IF_ERROR(expectSymbol("}"));
        if (t.max == 0 || (t.max >= 0 && t.min > t.max))
          return Status::invalidArgument("SQL: quantifier at " + t.pos.toString() + " needs 0 <= n <= m and m >= 1");
      }
      if (t.quantified && symbol("?")) t.reluctant = true;
      m.pattern.push_back(std::move(t));
    }
    REKA_RETURN_IF_ERROR(expectSymbol(")"));
    if (m.pattern.empty()) return error("a pattern variable in PATTERN ( )");
    if (word("WITHIN")) {
      REKA_ASSIGN_OR_RETURN(ExprPtr w, primary());
      if (w->kind != Expr::Kind::kInterval || w->millis <= 0) return error("a positive INTERVAL after WITHIN");
      m.withinMs = w->millis;
    }
    REKA_RETURN_IF_ERROR(expectWord("DEFINE"));
    do {
      MatchRecognize::Define d;
      d.pos = peek().pos;
      REKA_ASSIGN_OR_RETURN(d.variable, identifier("a pattern variable in DEFINE"));
      REKA_RETURN_IF_ERROR(expectWord("AS"));
      REKA_ASSIGN_OR_RETURN(auto e, expressionWithText());
      d.condition = e.first;
      d.text = e.second;
      m.defines.push_back(std::move(d));
    } while (symbol(","));
    REKA_RETURN_IF_ERROR(expectSymbol(")"));
    return m;
  }

  /// TUMBLE(TABLE t, DESCRIPTOR(c), size [, offset]), HOP(TABLE t, DESCRIPTOR(c), slide, size
  /// [, offset]) or CUMULATE(TABLE t, DESCRIPTOR(c), step, size [, offset]), after "TABLE(".
  Result<WindowTvf> windowFunction(Query& q) {
    WindowTvf w;
    w.pos = peek().pos;
    REKA_ASSIGN_OR_RETURN(std::string fn, identifier("TUMBLE, HOP or CUMULATE"));
    w.function = upper(fn);
    if (w.function != "TUMBLE" && w.function != "HOP" && w.function != "CUMULATE")
      return Status::notSupported("SQL: table function " + fn + " at " + w.pos.toString() +
                                  " is not supported; accepted: TUMBLE, HOP, CUMULATE (SESSION windows: GROUP BY SESSION(...))");
    REKA_RETURN_IF_ERROR(expectSymbol("("));
    REKA_RETURN_IF_ERROR(expectWord("TABLE"));
    q.fromPos = peek().pos;
    REKA_ASSIGN_OR_RETURN(q.from, tableName());
    REKA_RETURN_IF_ERROR(expectSymbol(","));
    REKA_RETURN_IF_ERROR(expectWord("DESCRIPTOR"));
    REKA_RETURN_IF_ERROR(expectSymbol("("));
    w.timePos = peek().pos;
    REKA_ASSIGN_OR_RETURN(w.timeColumn, identifier("the time column"));
    REKA_RETURN_IF_ERROR(expectSymbol(")"));
    std::vector<int64_t> intervals;
    while (symbol(",")) {
      const Position at = peek().pos;
      REKA_ASSIGN_OR_RETURN(ExprPtr e, expression());
      if (e->kind != Expr::Kind::kInterval || e->millis < 0)
        return Status::invalidArgument("SQL: " + w.function + " at " + at.toString() + " takes INTERVAL arguments after the DESCRIPTOR");
      intervals.push_back(e->millis);
    }
    REKA_RETURN_IF_ERROR(expectSymbol(")"));
    const size_t need = w.function == "TUMBLE" ? 1 : 2;
    if (intervals.size() != need && intervals.size() != need + 1)
      return Status::invalidArgument(fmt::format("SQL: {} at {} takes {} after the DESCRIPTOR (and an optional offset), not {} intervals",
                                                 w.function, w.pos.toString(), need == 1 ? "a size" : w.function == "HOP" ? "a slide and a size" : "a step and a size",
                                                 intervals.size()));
    if (need == 1) {
      w.size = w.step = intervals[0];
    } else {
      w.step = intervals[0];
      w.size = intervals[1];
    }
    if (intervals.size() > need) w.offset = intervals[need];
    if (w.size <= 0 || w.step <= 0) return Status::invalidArgument("SQL: " + w.function + " at " + w.pos.toString() + ": window sizes must be positive");
    if (w.function == "CUMULATE" && w.size % w.step != 0)
      return Status::invalidArgument("SQL: CUMULATE at " + w.pos.toString() + ": the size must be a multiple of the step");
    return w;
  }

  // expression := or
  Result<ExprPtr> expression() { return orExpr(); }

  ExprPtr make(Expr::Kind kind, Position pos) {
    auto e = std::make_shared<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }
  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, Position pos) {
    auto e = make(Expr::Kind::kBinary, pos);
    e->op = op;
    e->args = {std::move(l), std::move(r)};
    return e;
  }

  Result<ExprPtr> orExpr() {
    REKA_ASSIGN_OR_RETURN(ExprPtr l, andExpr());
    while (isWord(peek(), "OR")) {
      Position pos = next().pos;
      REKA_ASSIGN_OR_RETURN(ExprPtr r, andExpr());
      l = binary("OR", l, r, pos);
    }
    return l;
  }
  Result<ExprPtr> andExpr() {
    REKA_ASSIGN_OR_RETURN(ExprPtr l, notExpr());
    while (isWord(peek(), "AND")) {
      Position pos = next().pos;
      REKA_ASSIGN_OR_RETURN(ExprPtr r, notExpr());
      l = binary("AND", l, r, pos);
    }
    return l;
  }
  Result<ExprPtr> notExpr() {
    Nesting guard(nesting_);
    if (nesting_ > kMaxNesting) return tooDeep();
    if (isWord(peek(), "NOT")) {
      Position pos = next().pos;
      REKA_ASSIGN_OR_RETURN(ExprPtr a, notExpr());
      auto e = make(Expr::Kind::kUnary, pos);
      e->op = "NOT";
      e->args = {a};
      return e;
    }
    return comparison();
  }
  Result<ExprPtr> comparison() {
    REKA_ASSIGN_OR_RETURN(ExprPtr l, additive());
    for (;;) {
      const Token& t = peek();
      if (t.kind == Token::Kind::kSymbol &&
          (t.text == "=" || t.text == "<>" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">=")) {
        Position pos = t.pos;
        std::string op = next().text == "!=" ? "<>" : t_[p_ - 1].text;
        REKA_ASSIGN_OR_RETURN(ExprPtr r, additive());
        l = binary(op, l, r, pos);
        continue;
      }
      if (isWord(t, "IS")) {
        Position pos = next().pos;
        auto e = make(Expr::Kind::kIsNull, pos);
        e->negated = word("NOT");
        REKA_RETURN_IF_ERROR(expectWord("NULL"));
        e->args = {l};
        l = e;
        continue;
      }
      const bool notWord = isWord(t, "NOT") && (isWord(peek(1), "LIKE") || isWord(peek(1), "IN") || isWord(peek(1), "BETWEEN"));
      if (notWord || isWord(t, "BETWEEN") || isWord(t, "LIKE") || isWord(t, "IN")) {
        Position pos = t.pos;
        if (notWord) ++p_;
        const std::string what = upper(next().text);
        ExprPtr e;
        if (what == "IN") {
          // x IN (a, b) is x = a OR x = b (the same three-valued result).
          REKA_RETURN_IF_ERROR(expectSymbol("("));
          do {
            REKA_ASSIGN_OR_RETURN(ExprPtr item, additive());
            ExprPtr eq = binary("=", l, item, pos);
            e = e ? binary("OR", e, eq, pos) : eq;
          } while (symbol(","));
          REKA_RETURN_IF_ERROR(expectSymbol(")"));
        } else if (what == "BETWEEN") {
          if (word("SYMMETRIC")) return Status::notSupported("SQL: BETWEEN SYMMETRIC at " + pos.toString() + " is not supported yet");
          word("ASYMMETRIC");
          REKA_ASSIGN_OR_RETURN(ExprPtr low, additive());
          REKA_RETURN_IF_ERROR(expectWord("AND"));
          REKA_ASSIGN_OR_RETURN(ExprPtr high, additive());
          e = binary("AND", binary(">=", l, low, pos), binary("<=", l, high, pos), pos);
        } else {
          REKA_ASSIGN_OR_RETURN(ExprPtr pattern, additive());
          e = make(Expr::Kind::kCall, pos);
          e->name = "LIKE";
          e->args = {l, pattern};
          if (word("ESCAPE")) return Status::notSupported("SQL: LIKE … ESCAPE at " + pos.toString() + " is not supported yet");
        }
        if (notWord) {
          auto n = make(Expr::Kind::kUnary, pos);
          n->op = "NOT";
          n->args = {e};
          e = n;
        }
        l = e;
        continue;
      }
      return l;
    }
  }
  Result<ExprPtr> additive() {
    REKA_ASSIGN_OR_RETURN(ExprPtr l, multiplicative());
    for (;;) {
      const Token& t = peek();
      if (t.kind == Token::Kind::kSymbol && (t.text == "+" || t.text == "-" || t.text == "||")) {
        Position pos = t.pos;
        std::string op = next().text;
        REKA_ASSIGN_OR_RETURN(ExprPtr r, multiplicative());
        l = binary(op, l, r, pos);
        continue;
      }
      return l;
    }
  }
  Result<ExprPtr> multiplicative() {
    REKA_ASSIGN_OR_RETURN(ExprPtr l, unary());
    for (;;) {
      const Token& t = peek();
      if (t.kind == Token::Kind::kSymbol && (t.text == "*" || t.text == "/" || t.text == "%")) {
        Position pos = t.pos;
        std::string op = next().text;
        REKA_ASSIGN_OR_RETURN(ExprPtr r, unary());
        l = binary(op, l, r, pos);
        continue;
      }
      return l;
    }
  }
  Result<ExprPtr> unary() {
    Nesting guard(nesting_);
    if (nesting_ > kMaxNesting) return tooDeep();
    if (peek().kind == Token::Kind::kSymbol && (peek().text == "-" || peek().text == "+")) {
      Position pos = peek().pos;
      const bool minus = next().text == "-";
      REKA_ASSIGN_OR_RETURN(ExprPtr a, unary());
      if (!minus) return a;
      auto e = make(Expr::Kind::kUnary, pos);
      e->op = "-";
      e->args = {a};
      return e;
    }
    return primary();
  }

  Result<ExprPtr> primary() {
    const Token& t = peek();
    Position pos = t.pos;
    if (symbol("(")) {
      REKA_ASSIGN_OR_RETURN(ExprPtr e, expression());
      REKA_RETURN_IF_ERROR(expectSymbol(")"));
      return e;
    }
    if (t.kind == Token::Kind::kNumber) {
      auto e = make(Expr::Kind::kLiteral, pos);
      e->text = next().text;
      const bool exact = e->text.find_first_of("eE") == std::string::npos;
      const size_t point = e->text.find('.');
      if (!exact) {
        e->literalType = DataType::float64().notNull();
      } else if (point == std::string::npos) {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(e->text.data(), e->text.data() + e->text.size(), v);
        if (ec != std::errc()) {
          e->literalType = DataType::decimal(std::min<int>(38, static_cast<int>(e->text.size())), 0).notNull();
        } else {
          e->literalType = (v <= INT32_MAX ? DataType::integer() : DataType::bigint()).notNull();
        }
      } else {
        // As Flink types it: 0.908 is DECIMAL(3, 3), 12.50 is DECIMAL(4, 2).
        const int scale = static_cast<int>(e->text.size() - point - 1);
        int digits = 0;
        bool leading = true;
        for (char c : e->text) {
          if (!std::isdigit(static_cast<unsigned char>(c))) {
            if (c == '.') leading = false;
            continue;
          }
          if (leading && c == '0') continue;
          leading = false;
          ++digits;
        }
        const int precision = std::max({digits, scale, 1});
        e->literalType = DataType::decimal(std::min(38, precision), std::min(scale, 38)).notNull();
      }
      return e;
    }
    if (t.kind == Token::Kind::kString) {
      auto e = make(Expr::Kind::kLiteral, pos);
      e->text = next().text;
      e->literalType = DataType::string().notNull();
      return e;
    }
    if (isWord(t, "NULL")) {
      ++p_;
      auto e = make(Expr::Kind::kLiteral, pos);
      e->isNull = true;
      e->literalType = DataType::string();
      return e;
    }
    if (isWord(t, "TRUE") || isWord(t, "FALSE")) {
      auto e = make(Expr::Kind::kLiteral, pos);
      e->text = upper(next().text) == "TRUE" ? "true" : "false";
      e->literalType = DataType::boolean().notNull();
      return e;
    }
    if (isWord(t, "TIMESTAMP") && peek(1).kind == Token::Kind::kString) {
      ++p_;
      auto e = make(Expr::Kind::kLiteral, pos);
      e->text = next().text;
      e->literalType = DataType::timestamp(3).notNull();
      return e;
    }
    if (isWord(t, "INTERVAL")) {
      ++p_;
      REKA_ASSIGN_OR_RETURN(std::string amount, stringLiteral("'n' after INTERVAL"));
      const Token& unitToken = peek();
      std::string unit = upper(unitToken.text);
      ++p_;
      int64_t per = 0;
      if (unit == "MILLISECOND") per = 1;
      else if (unit == "SECOND") per = 1000;
      else if (unit == "MINUTE") per = 60'000;
      else if (unit == "HOUR") per = 3'600'000;
      else if (unit == "DAY") per = 86'400'000;
      else
        return Status::invalidArgument("SQL: unknown interval unit '" + unitToken.text + "' at " + unitToken.pos.toString() +
                                       "; accepted: MILLISECOND, SECOND, MINUTE, HOUR, DAY");
      double n = 0;
      auto [p, ec] = std::from_chars(amount.data(), amount.data() + amount.size(), n);
      if (ec != std::errc() || p != amount.data() + amount.size())
        return Status::invalidArgument("SQL: INTERVAL '" + amount + "' at " + pos.toString() + " is not a number");
      auto e = make(Expr::Kind::kInterval, pos);
      e->millis = std::llround(n * static_cast<double>(per));
      return e;
    }
    if (isWord(t, "CASE")) {
      ++p_;
      auto e = make(Expr::Kind::kCase, pos);
      if (!isWord(peek(), "WHEN")) return Status::notSupported("SQL: CASE x WHEN … at " + pos.toString() + " is not supported yet; write CASE WHEN x = … THEN");
      while (word("WHEN")) {
        REKA_ASSIGN_OR_RETURN(ExprPtr when, expression());
        REKA_RETURN_IF_ERROR(expectWord("THEN"));
        REKA_ASSIGN_OR_RETURN(ExprPtr then, expression());
        e->args.push_back(when);
        e->args.push_back(then);
      }
      if (word("ELSE")) {
        REKA_ASSIGN_OR_RETURN(ExprPtr otherwise, expression());
        e->args.push_back(otherwise);
        e->hasElse = true;
      }
      REKA_RETURN_IF_ERROR(expectWord("END"));
      return e;
    }
    if (isWord(t, "CAST")) {
      ++p_;
      REKA_RETURN_IF_ERROR(expectSymbol("("));
      auto e = make(Expr::Kind::kCast, pos);
      REKA_ASSIGN_OR_RETURN(ExprPtr a, expression());
      REKA_RETURN_IF_ERROR(expectWord("AS"));
      REKA_ASSIGN_OR_RETURN(e->castType, type());
      REKA_RETURN_IF_ERROR(expectSymbol(")"));
      e->args = {a};
      return e;
    }
    if (t.kind == Token::Kind::kIdent || t.kind == Token::Kind::kQuotedIdent) {
      if (t.kind == Token::Kind::kIdent && isReserved(upper(t.text))) return error("an expression");
      std::string first = next().text;
      if (t_[p_ - 1].kind == Token::Kind::kIdent && symbol("(")) {
        auto e = make(Expr::Kind::kCall, pos);
        e->name = upper(first);
        if (e->name == "EXTRACT") {
          // EXTRACT(unit FROM x): the unit as a string argument first.
          auto unit = make(Expr::Kind::kLiteral, peek().pos);
          REKA_ASSIGN_OR_RETURN(std::string u, identifier("a time unit (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND …)"));
          unit->text = upper(u);
          unit->literalType = DataType::string().notNull();
          REKA_RETURN_IF_ERROR(expectWord("FROM"));
          REKA_ASSIGN_OR_RETURN(ExprPtr a, expression());
          e->args = {unit, a};
          REKA_RETURN_IF_ERROR(expectSymbol(")"));
          return e;
        }
        if (symbol("*")) {
          e->args.push_back(make(Expr::Kind::kStar, t_[p_ - 1].pos));
          REKA_RETURN_IF_ERROR(expectSymbol(")"));
        } else if (!symbol(")")) {
          e->distinct = word("DISTINCT");
          if (!e->distinct) word("ALL");
          if (peek().kind == Token::Kind::kSymbol && peek().text == "*" && peek(1).kind == Token::Kind::kSymbol && peek(1).text == ")")
            e->args.push_back(make(Expr::Kind::kStar, next().pos));
          while (e->args.empty()) {
            do {
              REKA_ASSIGN_OR_RETURN(ExprPtr a, expression());
              e->args.push_back(a);
            } while (symbol(","));
          }
          if ((e->name == "FLOOR" || e->name == "CEIL") && word("TO")) {
            // FLOOR(x TO unit): the unit as a string argument second.
            auto unit = make(Expr::Kind::kLiteral, peek().pos);
            REKA_ASSIGN_OR_RETURN(std::string u, identifier("a time unit (DAY, HOUR, MINUTE, SECOND …)"));
            unit->text = upper(u);
            unit->literalType = DataType::string().notNull();
            e->args.push_back(unit);
          }
          REKA_RETURN_IF_ERROR(expectSymbol(")"));
        }
        if (isWord(peek(), "FILTER") && peek(1).kind == Token::Kind::kSymbol && peek(1).text == "(") {
          p_ += 2;
          REKA_RETURN_IF_ERROR(expectWord("WHERE"));
          REKA_ASSIGN_OR_RETURN(e->filter, expression());
          REKA_RETURN_IF_ERROR(expectSymbol(")"));
        }
        if (word("OVER")) {
          // OVER (PARTITION BY … ORDER BY … [frame]), or OVER w: a window of the WINDOW clause.
          e->over = std::make_shared<Expr::Over>();
          if (peek().kind == Token::Kind::kIdent || peek().kind == Token::Kind::kQuotedIdent) {
            e->over->name = next().text;
            e->over->framePos = e->pos;
          } else {
            REKA_RETURN_IF_ERROR(windowSpec(*e->over));
          }
        }
        return e;
      }
      auto e = make(Expr::Kind::kColumn, pos);
      if (symbol(".")) {
        e->qualifier = first;
        if (symbol("*")) {
          e->kind = Expr::Kind::kStar;  // qualifier.*
          return e;
        }
        REKA_ASSIGN_OR_RETURN(e->name, identifier("a column name after '.'"));
      } else {
        e->name = first;
      }
      return e;
    }
    return error("an expression");
  }

  std::string_view text_;
  std::vector<Token> t_;
  size_t p_ = 0;
  /// The parser's recursion depth: deeper nesting is an error, not a stack overflow (found by
  /// the SQL fuzzer: a few hundred nested calls overflowed the stack of a sanitizer build).
  static constexpr int kMaxNesting = 200;  ///< counted at NOT and at signs and primaries: ~100 parentheses
  int nesting_ = 0;
  struct Nesting {
    explicit Nesting(int& n) : n(n) { ++n; }
    ~Nesting() { --n; }
    int& n;
  };
  Status tooDeep() {
    return Status::invalidArgument("SQL: the text at " + peek().pos.toString() +
                                   " nests too deeply (parentheses, calls, NOT, signs or subqueries about 100 levels deep)");
  }
};

}  // namespace

Result<std::vector<Statement>> parseScript(std::string_view text) {
  REKA_ASSIGN_OR_RETURN(std::vector<Token> tokens, lex(text));
  Parser p(text, std::move(tokens));
  return p.script();
}

Result<ExprPtr> parseExpression(std::string_view text) {
  REKA_ASSIGN_OR_RETURN(std::vector<Token> tokens, lex(text));
  Parser p(text, std::move(tokens));
  return p.wholeExpression();
}

}  // namespace reka::sql
