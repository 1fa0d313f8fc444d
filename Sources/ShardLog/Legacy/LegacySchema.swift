/// The original app's single-database schema (Specs/LegacyImport.md §1).
public enum LegacySchema {
    public static let sql = """
        CREATE TABLE personas (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT,
          personality_traits TEXT, personality_temperament TEXT, personality_communication_style TEXT,
          memory_max_memories INTEGER, memory_importance_threshold INTEGER, memory_auto_optimize INTEGER,
          memory_retention_period INTEGER, memory_categories TEXT, memory_compression_enabled INTEGER,
          privacy_data_collection INTEGER, privacy_analytics_enabled INTEGER, privacy_share_with_researchers INTEGER,
          privacy_allow_personality_analysis INTEGER, privacy_memory_retention INTEGER, privacy_export_data_allowed INTEGER,
          is_active INTEGER DEFAULT 0, created_at, updated_at);
        CREATE TABLE memory_entities (
          id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, type TEXT, name TEXT DEFAULT '', content TEXT, summary TEXT, tags TEXT,
          importance INTEGER, memory_tier TEXT DEFAULT 'active', embedding TEXT, embedding_model TEXT,
          access_count INTEGER, last_accessed, created_at, updated_at, deleted_at);
        CREATE TABLE conversations (
          id TEXT PRIMARY KEY, persona_id TEXT NOT NULL, title TEXT, messages TEXT, created_at, updated_at);
        """

    /// LEG-002.
    public static func tier(_ legacy: String?) -> MemoryTier {
        switch legacy {
        case "hot"?, "active"?: return .hot
        case "cold"?, "archived"?, "archive"?, "inactive"?: return .cold
        default: return .warm
        }
    }
}
